// NVRTC: CUDA C source to a cubin for one architecture. Runs without a GPU.
#include "CCUDA.h"
#include "cuda_abi.h"
#include "loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    nvrtcVersion_t version;
    nvrtcCreateProgram_t create;
    nvrtcCompileProgram_t compile;
    nvrtcGetProgramLogSize_t log_size;
    nvrtcGetProgramLog_t log;
    nvrtcGetCUBINSize_t cubin_size;
    nvrtcGetCUBIN_t cubin;
    nvrtcDestroyProgram_t destroy;
    nvrtcGetErrorString_t error_string;
} nv;

int lcr_cuda_resolve_nvrtc(char *err, size_t err_len) {
    static const char *const names[] = {"nvrtcVersion", "nvrtcCreateProgram", "nvrtcCompileProgram",
                                        "nvrtcGetProgramLogSize", "nvrtcGetProgramLog", "nvrtcGetCUBINSize",
                                        "nvrtcGetCUBIN", "nvrtcDestroyProgram", "nvrtcGetErrorString"};
    return lcr_cuda_resolve(LCR_LIB_NVRTC, names, (void **)&nv, sizeof names / sizeof names[0], err, err_len);
}

int lcr_nvrtc_version(int *major, int *minor) {
    if (!nv.version) return 1;
    return nv.version(major, minor);
}

static void copy_log(nvrtcProgram program, char *log, size_t log_len) {
    if (!log || !log_len) return;
    log[0] = 0;
    size_t size = 0;
    if (nv.log_size(program, &size) != 0 || size <= 1) return;
    char *text = malloc(size);
    if (!text) return;
    if (nv.log(program, text) == 0) snprintf(log, log_len, "%s", text);
    free(text);
}

int lcr_nvrtc_compile(const char *source, const char *name, const char *arch, const char *const *options,
                      int option_count, void **cubin, size_t *cubin_size, char *log, size_t log_len) {
    *cubin = NULL;
    *cubin_size = 0;
    if (!nv.compile) {
        lcr_cuda_message(log, log_len, "NVRTC is not loaded%s%s", "", "");
        return 1;
    }
    nvrtcProgram program = NULL;
    nvrtcResult result = nv.create(&program, source, name, 0, NULL, NULL);
    if (result != 0) {
        lcr_cuda_message(log, log_len, "nvrtcCreateProgram: %s%s", nv.error_string(result), "");
        return 1;
    }
    // The architecture goes first; a real one (sm_XX) makes NVRTC emit SASS, so the driver runs the
    // cubin as it is (no PTX JIT, which a driver older than this NVRTC would refuse).
    const char *all[32];
    char arch_option[64];
    snprintf(arch_option, sizeof arch_option, "--gpu-architecture=%s", arch);
    int count = 0;
    all[count++] = arch_option;
    for (int i = 0; i < option_count && count < 32; i++) all[count++] = options[i];
    result = nv.compile(program, count, all);
    copy_log(program, log, log_len);
    if (result != 0) {
        if (log && log_len && !log[0]) lcr_cuda_message(log, log_len, "nvrtcCompileProgram: %s%s", nv.error_string(result), "");
        nv.destroy(&program);
        return 1;
    }
    size_t size = 0;
    if (nv.cubin_size(program, &size) != 0 || size == 0 || !(*cubin = malloc(size))) {
        lcr_cuda_message(log, log_len, "NVRTC produced no cubin for %s%s", arch, "");
        nv.destroy(&program);
        return 1;
    }
    if (nv.cubin(program, *cubin) != 0) {
        free(*cubin);
        *cubin = NULL;
        lcr_cuda_message(log, log_len, "nvrtcGetCUBIN failed for %s%s", arch, "");
        nv.destroy(&program);
        return 1;
    }
    *cubin_size = size;
    nv.destroy(&program);
    return 0;
}

void lcr_cuda_free_host(void *pointer) { free(pointer); }
