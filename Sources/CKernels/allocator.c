// Allocator tuning that an executable may opt into (a library must not change it for its host).
#include "CKernels.h"
#include <malloc.h>

void lcr_keep_freed_memory_for_reuse(void) {
    mallopt(M_MMAP_MAX, 0);                // large blocks from the heap, not fresh mappings
    mallopt(M_TRIM_THRESHOLD, 1 << 30);    // keep up to 1 GiB of freed heap for reuse
}
