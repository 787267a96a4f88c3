// The CUDA driver API: device, memory, streams, modules and launches.
#include "CCUDA.h"
#include "cuda_abi.h"
#include "loader.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct {
    cuInit_t init;
    cuDeviceGetCount_t device_count;
    cuDeviceGet_t device_get;
    cuDeviceGetName_t device_name;
    cuDeviceGetAttribute_t device_attribute;
    cuDeviceTotalMem_t device_total_memory;
    cuDevicePrimaryCtxRetain_t primary_context;
    cuCtxSetCurrent_t set_current;
    cuMemAlloc_t alloc;
    cuMemFree_t free;
    cuMemcpyHtoDAsync_t upload;
    cuMemcpyDtoHAsync_t download;
    cuMemsetD8Async_t memset;
    cuMemGetInfo_t memory_info;
    cuStreamCreate_t stream_create;
    cuStreamSynchronize_t stream_synchronize;
    cuStreamDestroy_t stream_destroy;
    cuModuleLoadData_t module_load;
    cuModuleGetFunction_t module_function;
    cuLaunchKernel_t launch;
    cuFuncSetAttribute_t function_attribute;
    cuGetErrorString_t error_string;
    cuGetErrorName_t error_name;
    cuEventCreate_t event_create;
    cuEventRecord_t event_record;
    cuEventElapsedTime_t event_elapsed;
    cuEventDestroy_t event_destroy;
} cu;

int lcr_cuda_resolve_driver(char *err, size_t err_len) {
    static const char *const names[] = {
        "cuInit", "cuDeviceGetCount", "cuDeviceGet", "cuDeviceGetName", "cuDeviceGetAttribute",
        "cuDeviceTotalMem_v2", "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent", "cuMemAlloc_v2", "cuMemFree_v2",
        "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2", "cuMemsetD8Async", "cuMemGetInfo_v2", "cuStreamCreate",
        "cuStreamSynchronize", "cuStreamDestroy_v2", "cuModuleLoadData", "cuModuleGetFunction", "cuLaunchKernel",
        "cuFuncSetAttribute", "cuGetErrorString", "cuGetErrorName", "cuEventCreate", "cuEventRecord",
        "cuEventElapsedTime", "cuEventDestroy_v2"};
    return lcr_cuda_resolve(LCR_LIB_DRIVER, names, (void **)&cu, sizeof names / sizeof names[0], err, err_len);
}

// The context each thread last made current, so that binding again costs nothing.
static __thread CUcontext bound_context;
static __thread int bound_index = -1;

// The first error after which a GPU's context is unusable (the driver returns it from every
// later call until the process exits), and which GPU: a service reports it on /health so that
// whatever runs it restarts the process, instead of answering 500 to every request.
static pthread_mutex_t failure_lock = PTHREAD_MUTEX_INITIALIZER;
static int failed_index = -1;
static char failure[512];

// CUresults documented as leaving the context in an inconsistent state: "the process must be
// terminated and relaunched" (uncorrectable ECC and NVLink errors, illegal address, launch
// timeout, hardware stack error, illegal instruction, misaligned address, invalid address
// space, invalid PC, device-side assert, launch failure).
static int is_context_fatal(int result) {
    switch (result) {
    case 214: case 220: case 700: case 702: case 710: case 714: case 715: case 716: case 717: case 718: case 719:
        return 1;
    default:
        return 0;
    }
}

void lcr_cuda_describe(int result, const char *context, char *err, size_t err_len) {
    const char *name = "CUDA_ERROR", *text = "unknown error";
    if (cu.error_name) cu.error_name(result, &name);
    if (cu.error_string) cu.error_string(result, &text);
    if (err && err_len) snprintf(err, err_len, "%s: %s (%s, %d)", context, text ? text : "", name ? name : "", result);
    if (is_context_fatal(result) && bound_index >= 0) {
        pthread_mutex_lock(&failure_lock);
        if (failed_index < 0) {
            failed_index = bound_index;
            snprintf(failure, sizeof failure, "%s: %s (%s, %d)", context, text ? text : "", name ? name : "", result);
        }
        pthread_mutex_unlock(&failure_lock);
    }
}

int lcr_cuda_device_failure(int index, char *message, size_t message_len) {
    pthread_mutex_lock(&failure_lock);
    const int failed = failed_index >= 0 && failed_index == index;
    if (failed && message && message_len) snprintf(message, message_len, "%s", failure);
    pthread_mutex_unlock(&failure_lock);
    return failed;
}

#define CHECK(call, context)                                       \
    do {                                                           \
        CUresult result_ = (call);                                 \
        if (result_ != 0) {                                        \
            lcr_cuda_describe(result_, context, err, err_len);     \
            return 1;                                              \
        }                                                          \
    } while (0)

static int require_driver(char *err, size_t err_len) {
    if (cu.init) return 0;
    lcr_cuda_message(err, err_len, "the CUDA driver is not loaded%s%s", "", "");
    return 1;
}

int lcr_cuda_device_count(char *err, size_t err_len) {
    if (require_driver(err, err_len)) return -1;
    CUresult result = cu.init(0);
    if (result != 0) {
        lcr_cuda_describe(result, "cuInit", err, err_len);
        return -1;
    }
    int count = 0;
    result = cu.device_count(&count);
    if (result != 0) {
        lcr_cuda_describe(result, "cuDeviceGetCount", err, err_len);
        return -1;
    }
    return count;
}

int lcr_cuda_bind_thread(int index, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    if (bound_index == index && bound_context) return 0;
    CUdevice device;
    CUcontext context;
    CHECK(cu.init(0), "cuInit");
    CHECK(cu.device_get(&device, index), "cuDeviceGet");
    CHECK(cu.primary_context(&context, device), "cuDevicePrimaryCtxRetain");
    CHECK(cu.set_current(context), "cuCtxSetCurrent");
    bound_context = context;
    bound_index = index;
    return 0;
}

int lcr_cuda_open_device(int index, char *name, size_t name_len, int *major, int *minor, size_t *total_memory,
                         char *err, size_t err_len) {
    int count = lcr_cuda_device_count(err, err_len);
    if (count < 0) return 1;
    if (index < 0 || index >= count) {
        char wanted[32], seen[32];
        snprintf(wanted, sizeof wanted, "%d", index);
        snprintf(seen, sizeof seen, "%d", count);
        lcr_cuda_message(err, err_len, "there is no CUDA GPU %s: the driver sees %s", wanted, seen);
        return 1;
    }
    if (lcr_cuda_bind_thread(index, err, err_len)) return 1;
    CUdevice device;
    CHECK(cu.device_get(&device, index), "cuDeviceGet");
    char buffer[256] = "";
    CHECK(cu.device_name(buffer, (int)sizeof buffer, device), "cuDeviceGetName");
    if (name && name_len) snprintf(name, name_len, "%s", buffer);
    CHECK(cu.device_attribute(major, LCR_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device), "cuDeviceGetAttribute");
    CHECK(cu.device_attribute(minor, LCR_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device), "cuDeviceGetAttribute");
    CHECK(cu.device_total_memory(total_memory, device), "cuDeviceTotalMem");
    return 0;
}

int lcr_cuda_alloc(uint64_t *address, size_t bytes, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    CUdeviceptr pointer = 0;
    CUresult result = cu.alloc(&pointer, bytes ? bytes : 1);
    if (result != 0) {
        lcr_cuda_describe(result, "cuMemAlloc", err, err_len);
        return result;   // the caller tells a full GPU (2) from a failed one (a sticky error, say)
    }
    *address = pointer;
    return 0;
}

void lcr_cuda_release(uint64_t address) {
    if (cu.free && address) cu.free((CUdeviceptr)address);
}

int lcr_cuda_upload(uint64_t device, const void *host, size_t bytes, void *stream, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    if (!bytes) return 0;
    // From pageable memory the call returns once the bytes are staged: `host` may go right after.
    CHECK(cu.upload((CUdeviceptr)device, host, bytes, (CUstream)stream), "cuMemcpyHtoDAsync");
    return 0;
}

int lcr_cuda_download(void *host, uint64_t device, size_t bytes, void *stream, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    if (!bytes) return 0;
    CHECK(cu.download(host, (CUdeviceptr)device, bytes, (CUstream)stream), "cuMemcpyDtoHAsync");
    // Into pageable memory the copy has ended when the call returns; synchronising also reports an
    // earlier kernel's failure here, at the end of a pass, with its own message.
    CHECK(cu.stream_synchronize((CUstream)stream), "a kernel or copy on the GPU failed");
    return 0;
}

int lcr_cuda_zero(uint64_t device, size_t bytes, void *stream, char *err, size_t err_len) {
    return lcr_cuda_fill(device, 0, bytes, stream, err, err_len);
}

int lcr_cuda_fill(uint64_t device, unsigned char value, size_t bytes, void *stream, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    if (!bytes) return 0;
    CHECK(cu.memset((CUdeviceptr)device, value, bytes, (CUstream)stream), "cuMemsetD8Async");
    return 0;
}

int lcr_cuda_free_memory(size_t *free_bytes, size_t *total_bytes, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    CHECK(cu.memory_info(free_bytes, total_bytes), "cuMemGetInfo");
    return 0;
}

int lcr_cuda_stream_create(void **stream, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    CUstream created = NULL;
    CHECK(cu.stream_create(&created, LCR_CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    *stream = created;
    return 0;
}

int lcr_cuda_stream_synchronize(void *stream, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    CHECK(cu.stream_synchronize((CUstream)stream), "cuStreamSynchronize");
    return 0;
}

void lcr_cuda_stream_destroy(void *stream) {
    if (cu.stream_destroy && stream) cu.stream_destroy((CUstream)stream);
}

int lcr_cuda_module_load(void **module, const void *cubin, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    CUmodule loaded = NULL;
    CHECK(cu.module_load(&loaded, cubin), "cuModuleLoadData");
    *module = loaded;
    return 0;
}

int lcr_cuda_module_function(void **function, void *module, const char *name, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    CUfunction found = NULL;
    CUresult result = cu.module_function(&found, (CUmodule)module, name);
    if (result != 0) {
        char context[160];
        snprintf(context, sizeof context, "kernel %s", name);
        lcr_cuda_describe(result, context, err, err_len);
        return 1;
    }
    *function = found;
    return 0;
}

int lcr_cuda_launch(void *function, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x,
                    unsigned block_y, unsigned block_z, unsigned shared_bytes, void *stream, void **arguments,
                    char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    if (!grid_x || !grid_y || !grid_z) return 0;   // nothing to do
    CHECK(cu.launch((CUfunction)function, grid_x, grid_y, grid_z, block_x, block_y, block_z, shared_bytes,
                    (CUstream)stream, arguments, NULL),
          "cuLaunchKernel");
    return 0;
}

int lcr_cuda_function_shared_limit(void *function, int bytes, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    CHECK(cu.function_attribute((CUfunction)function, LCR_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
          "cuFuncSetAttribute");
    return 0;
}

int lcr_cuda_event_create(void **event, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    CUevent created = NULL;
    CHECK(cu.event_create(&created, 0), "cuEventCreate");   // CU_EVENT_DEFAULT: it keeps time
    *event = created;
    return 0;
}

int lcr_cuda_event_record(void *event, void *stream, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    CHECK(cu.event_record((CUevent)event, (CUstream)stream), "cuEventRecord");
    return 0;
}

int lcr_cuda_event_elapsed(float *milliseconds, void *start, void *end, char *err, size_t err_len) {
    if (require_driver(err, err_len)) return 1;
    CHECK(cu.event_elapsed(milliseconds, (CUevent)start, (CUevent)end), "cuEventElapsedTime");
    return 0;
}

void lcr_cuda_event_destroy(void *event) {
    if (cu.event_destroy && event) cu.event_destroy((CUevent)event);
}
