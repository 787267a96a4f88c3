// Allocator tuning that an executable may opt into (a library must not change it for its host).
#include "CKernels.h"
#include <malloc.h>

void lcr_keep_freed_memory_for_reuse(void) {
    mallopt(M_MMAP_MAX, 0);                // large blocks from the heap, not fresh mappings
    mallopt(M_TRIM_THRESHOLD, 1 << 30);    // keep up to 1 GiB of freed heap for reuse
    // One arena: the two settings above hold for the main arena only. Blocks that a pass
    // allocates on other threads (Swift's concurrency threads run the model) came from glibc's
    // per-thread arenas, whose heaps are trimmed and fresh pages faulted in again on every pass:
    // 388,000 minor faults (1.5 GiB of zeroed pages) per int8 pass of 1 + 20 passages on
    // BERT-large, none with one arena.
    mallopt(M_ARENA_MAX, 1);
}
