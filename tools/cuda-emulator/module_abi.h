// The contract between the software CUDA device's driver (libcuda.so.1) and a kernel module it
// built: each `extern "C" __global__` kernel NAME of the module's CUDA C has a launcher
// `lcr_emu_launch_NAME` that runs a whole grid on the calling thread.
#ifndef LCR_EMU_MODULE_ABI_H
#define LCR_EMU_MODULE_ABI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    unsigned grid[3];
    unsigned block[3];
    unsigned shared_bytes;   // dynamic shared memory of each block
    void **params;           // cuLaunchKernel's kernelParams: one pointer per parameter
    char *error;             // a description of a failure (deadlock, trap), for the driver to print
    size_t error_len;
} lcr_emu_launch;

/// Runs the grid; 0 on success, else non-zero with `error` filled in.
typedef int (*lcr_emu_launcher)(lcr_emu_launch *launch);

#define LCR_EMU_LAUNCHER_PREFIX "lcr_emu_launch_"

#ifdef __cplusplus
}
#endif

#endif
