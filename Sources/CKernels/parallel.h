// Internal: a loop split over the cores (see parallel.c).
#ifndef LISTCONRANKER_PARALLEL_H
#define LISTCONRANKER_PARALLEL_H
#include <stdint.h>

// lcr_parallel_for is declared in CKernels.h (the training code calls it too).
#include "CKernels.h"
#endif
