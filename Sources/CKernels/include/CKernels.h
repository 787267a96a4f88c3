#ifndef LISTCONRANKER_CKERNELS_H
#define LISTCONRANKER_CKERNELS_H
#include <stddef.h>
#include <stdint.h>
#endif
