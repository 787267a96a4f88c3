// The CUDA driver, cuBLASLt and NVRTC, loaded at run time with dlopen: nothing of CUDA is needed to
// build. This header declares our own thin C layer; the few CUDA types and constants it needs are
// spelled out in cuda_abi.h (from NVIDIA's published, stable ABI), never included from a toolkit.
#ifndef LCR_CCUDA_H
#define LCR_CCUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- Loading -------------------------------------------------------------------------------
// Each loader tries every directory of `dirs` (in order) with each of the library's sonames; an
// empty string stands for the dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache). It returns
// 0 when loaded (again: a no-op), else non-zero with `err` naming the sonames and directories it
// tried and dlerror's last word. Thread-safe.

/// libcuda.so.1 (the driver, installed with the NVIDIA kernel module).
int lcr_cuda_load_driver(const char *const *dirs, int dir_count, char *err, size_t err_len);
/// libcublasLt.so.13 or .12.
int lcr_cuda_load_cublaslt(const char *const *dirs, int dir_count, char *err, size_t err_len);
/// libnvrtc.so.13 or .12.
int lcr_cuda_load_nvrtc(const char *const *dirs, int dir_count, char *err, size_t err_len);
/// Where a loaded library came from (the path dlopen took), or "" when not loaded.
/// `which`: 0 driver, 1 cuBLASLt, 2 NVRTC.
const char *lcr_cuda_loaded_path(int which);

// ---- NVRTC (runs without a GPU) --------------------------------------------------------------

/// NVRTC's version. Needs lcr_cuda_load_nvrtc.
int lcr_nvrtc_version(int *major, int *minor);
/// Compiles CUDA C `source` to a cubin for `arch` (such as "sm_90"); `options` go to NVRTC as they
/// are. On success `*cubin` is malloc'ed (free with lcr_cuda_free_host) and `log` holds any warnings;
/// on failure `log` holds NVRTC's log. Returns 0 on success.
int lcr_nvrtc_compile(const char *source, const char *name, const char *arch, const char *const *options,
                      int option_count, void **cubin, size_t *cubin_size, char *log, size_t log_len);
void lcr_cuda_free_host(void *pointer);

// ---- Driver ------------------------------------------------------------------------------------

/// Initialises the driver and makes GPU `index`'s primary context current on this thread; writes
/// the card's name, compute capability and memory. Returns 0, or non-zero with `err`.
int lcr_cuda_open_device(int index, char *name, size_t name_len, int *major, int *minor,
                         size_t *total_memory, char *err, size_t err_len);
/// Makes GPU `index`'s primary context current on the calling thread (each thread that calls the
/// device must, once). Returns 0 or non-zero with `err`.
int lcr_cuda_bind_thread(int index, char *err, size_t err_len);
/// The number of CUDA GPUs the driver sees (0 when none); -1 with `err` when the driver fails.
int lcr_cuda_device_count(char *err, size_t err_len);
/// Whether GPU `index`'s context has failed for good: an error the driver documents as leaving
/// the context unusable (an illegal address, a failed launch, an uncorrectable ECC error, …) was
/// returned by a call made on it. Returns 1 and the first such error's message, or 0.
int lcr_cuda_device_failure(int index, char *message, size_t message_len);

/// Device memory. `lcr_cuda_alloc` returns 0 and a device address, or the driver's non-zero
/// CUresult (LCR_CUDA_OUT_OF_MEMORY when the GPU is full; an earlier kernel's sticky error, say).
enum { LCR_CUDA_OUT_OF_MEMORY = 2 };   // CUDA_ERROR_OUT_OF_MEMORY
int lcr_cuda_alloc(uint64_t *address, size_t bytes, char *err, size_t err_len);
void lcr_cuda_release(uint64_t address);
int lcr_cuda_upload(uint64_t device, const void *host, size_t bytes, void *stream, char *err, size_t err_len);
int lcr_cuda_download(void *host, uint64_t device, size_t bytes, void *stream, char *err, size_t err_len);
int lcr_cuda_zero(uint64_t device, size_t bytes, void *stream, char *err, size_t err_len);
/// Every byte of `device[0 ..< bytes]` set to `value` (0xff: NaN in every Float32, to show reads of memory
/// nobody wrote).
int lcr_cuda_fill(uint64_t device, unsigned char value, size_t bytes, void *stream, char *err, size_t err_len);
int lcr_cuda_free_memory(size_t *free_bytes, size_t *total_bytes, char *err, size_t err_len);

/// A stream of its own for a backend (non-blocking with respect to the legacy stream).
int lcr_cuda_stream_create(void **stream, char *err, size_t err_len);
int lcr_cuda_stream_synchronize(void *stream, char *err, size_t err_len);
void lcr_cuda_stream_destroy(void *stream);

/// Events that keep time on a stream (for profiling): the milliseconds between two recorded events
/// once both have completed.
int lcr_cuda_event_create(void **event, char *err, size_t err_len);
int lcr_cuda_event_record(void *event, void *stream, char *err, size_t err_len);
int lcr_cuda_event_elapsed(float *milliseconds, void *start, void *end, char *err, size_t err_len);
void lcr_cuda_event_destroy(void *event);

/// Loads a cubin and looks up kernels by name.
int lcr_cuda_module_load(void **module, const void *cubin, char *err, size_t err_len);
int lcr_cuda_module_function(void **function, void *module, const char *name, char *err, size_t err_len);
/// Launches `function` on `stream`; `arguments` as cuLaunchKernel takes them (pointers to each value).
int lcr_cuda_launch(void *function, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x,
                    unsigned block_y, unsigned block_z, unsigned shared_bytes, void *stream, void **arguments,
                    char *err, size_t err_len);
/// Raises a kernel's dynamic shared-memory limit (above 48 KB needs it).
int lcr_cuda_function_shared_limit(void *function, int bytes, char *err, size_t err_len);

// ---- cuBLASLt ----------------------------------------------------------------------------------

/// Element types of products (cudaDataType_t values).
typedef enum { LCR_CUDA_F32 = 0, LCR_CUDA_F16 = 2, LCR_CUDA_BF16 = 14 } lcr_cuda_type;
/// Epilogues the products use. With no bias, BIAS means none and RELU_BIAS a ReLU alone.
typedef enum {
    LCR_EPILOGUE_NONE = 0, LCR_EPILOGUE_BIAS = 1, LCR_EPILOGUE_RELU_BIAS = 2, LCR_EPILOGUE_RELU = 3
} lcr_cuda_epilogue;

typedef struct lcr_cublaslt lcr_cublaslt;
/// A cuBLASLt handle with a workspace of `workspace_bytes` on the device.
int lcr_cublaslt_create(lcr_cublaslt **out, size_t workspace_bytes, char *err, size_t err_len);
void lcr_cublaslt_destroy(lcr_cublaslt *lt);
/// Row-major `y [rows, n] = x [rows, k] · W[n, k]ᵀ (+ bias [n]) (then ReLU)`. `x` and `W` are of
/// `input_type`; `y` of `output_type`; the bias is Float32; accumulation is Float32 (no TF32).
int lcr_cublaslt_linear(lcr_cublaslt *lt, void *stream, uint64_t x, uint64_t weight, uint64_t bias,
                        uint64_t y, int64_t rows, int64_t n, int64_t k, lcr_cuda_type input_type,
                        lcr_cuda_type output_type, lcr_cuda_epilogue epilogue, char *err, size_t err_len);

/// Training's products: row-major `C[m, n] = op(A)[m, k] · op(B)[k, n] + beta · C` (op: transposed
/// when `trans_*` is non-zero), leading dimensions in elements. A and B of `input_type` (Float32, or
/// bf16 / fp16 copies for mixed precision); C of `output_type`: Float32, or the inputs' 16-bit type
/// (the Float32 sum rounded once); Float32 accumulation (no TF32).
int lcr_cublaslt_gemm(lcr_cublaslt *lt, void *stream, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                      lcr_cuda_type input_type, lcr_cuda_type output_type, uint64_t a, int64_t lda, uint64_t b,
                      int64_t ldb, float beta, uint64_t c, int64_t ldc, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
