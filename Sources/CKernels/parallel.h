// Internal: a loop split over the cores (see parallel.c).
#ifndef LISTCONRANKER_PARALLEL_H
#define LISTCONRANKER_PARALLEL_H
#include <stdint.h>

/// Runs body(context, begin, end) over contiguous shares of [0, count), one per thread.
typedef void (*lcr_range_body)(void *context, int64_t begin, int64_t end);
/// Splits [0, count) over the cores, giving each thread at least `min_per_thread` items
/// (fewer threads for small loops); returns when every share is done.
void lcr_parallel_for(int64_t count, int64_t min_per_thread, lcr_range_body body, void *context);
#endif
