// Shared between the CCUDA files: which library, symbol resolution, and error text.
#ifndef LCR_CUDA_LOADER_H
#define LCR_CUDA_LOADER_H

#include <stddef.h>

enum { LCR_LIB_DRIVER = 0, LCR_LIB_CUBLASLT = 1, LCR_LIB_NVRTC = 2 };

/// snprintf of `format` with two strings into `err`.
void lcr_cuda_message(char *err, size_t err_len, const char *format, const char *a, const char *b);
/// dlsym of each name into `slots`; an error names the first missing symbol.
int lcr_cuda_resolve(int which, const char *const *names, void **slots, int count, char *err, size_t err_len);

/// Each file resolves its own library's functions once the library is open.
int lcr_cuda_resolve_driver(char *err, size_t err_len);
int lcr_cuda_resolve_cublaslt(char *err, size_t err_len);
int lcr_cuda_resolve_nvrtc(char *err, size_t err_len);

/// The driver's description of a CUresult ("CUDA_ERROR_OUT_OF_MEMORY: out of memory").
void lcr_cuda_describe(int result, const char *context, char *err, size_t err_len);

#endif
