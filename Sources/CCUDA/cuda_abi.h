// The parts of the CUDA driver, cuBLASLt and NVRTC ABIs this package calls, written out from
// NVIDIA's documented C interfaces (stable across CUDA 12 and 13) so that no CUDA toolkit is needed
// to build. Only opaque handles, integers and the function signatures we dlsym.
#ifndef LCR_CUDA_ABI_H
#define LCR_CUDA_ABI_H

#include <stddef.h>
#include <stdint.h>

typedef int CUresult;                       // CUDA_SUCCESS = 0
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef unsigned long long CUdeviceptr;

enum {
    LCR_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    LCR_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    LCR_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
    LCR_CU_STREAM_NON_BLOCKING = 1,
};

typedef CUresult (*cuInit_t)(unsigned int);
typedef CUresult (*cuDeviceGetCount_t)(int *);
typedef CUresult (*cuDeviceGet_t)(CUdevice *, int);
typedef CUresult (*cuDeviceGetName_t)(char *, int, CUdevice);
typedef CUresult (*cuDeviceGetAttribute_t)(int *, int, CUdevice);
typedef CUresult (*cuDeviceTotalMem_t)(size_t *, CUdevice);
typedef CUresult (*cuDevicePrimaryCtxRetain_t)(CUcontext *, CUdevice);
typedef CUresult (*cuCtxSetCurrent_t)(CUcontext);
typedef CUresult (*cuMemAlloc_t)(CUdeviceptr *, size_t);
typedef CUresult (*cuMemFree_t)(CUdeviceptr);
typedef CUresult (*cuMemcpyHtoDAsync_t)(CUdeviceptr, const void *, size_t, CUstream);
typedef CUresult (*cuMemcpyDtoHAsync_t)(void *, CUdeviceptr, size_t, CUstream);
typedef CUresult (*cuMemsetD8Async_t)(CUdeviceptr, unsigned char, size_t, CUstream);
typedef CUresult (*cuMemGetInfo_t)(size_t *, size_t *);
typedef CUresult (*cuStreamCreate_t)(CUstream *, unsigned int);
typedef CUresult (*cuStreamSynchronize_t)(CUstream);
typedef CUresult (*cuStreamDestroy_t)(CUstream);
typedef CUresult (*cuModuleLoadData_t)(CUmodule *, const void *);
typedef CUresult (*cuModuleGetFunction_t)(CUfunction *, CUmodule, const char *);
typedef CUresult (*cuLaunchKernel_t)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                     unsigned, CUstream, void **, void **);
typedef CUresult (*cuFuncSetAttribute_t)(CUfunction, int, int);
typedef CUresult (*cuGetErrorString_t)(CUresult, const char **);
typedef CUresult (*cuGetErrorName_t)(CUresult, const char **);
typedef CUresult (*cuEventCreate_t)(CUevent *, unsigned int);
typedef CUresult (*cuEventRecord_t)(CUevent, CUstream);
typedef CUresult (*cuEventElapsedTime_t)(float *, CUevent, CUevent);
typedef CUresult (*cuEventDestroy_t)(CUevent);

typedef int cublasStatus_t;                 // CUBLAS_STATUS_SUCCESS = 0
typedef struct cublasLtContext *cublasLtHandle_t;
typedef struct cublasLtMatmulDescOpaque_st *cublasLtMatmulDesc_t;
typedef struct cublasLtMatrixLayoutOpaque_st *cublasLtMatrixLayout_t;
typedef struct cublasLtMatmulPreferenceOpaque_st *cublasLtMatmulPreference_t;
typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t;
typedef struct {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
} cublasLtMatmulHeuristicResult_t;

enum {
    LCR_CUBLAS_COMPUTE_32F = 68,            // Float32 accumulation, no TF32
    LCR_CUBLAS_OP_N = 0,
    LCR_CUBLAS_OP_T = 1,
    LCR_CUBLASLT_MATMUL_DESC_TRANSA = 3,
    LCR_CUBLASLT_MATMUL_DESC_TRANSB = 4,
    LCR_CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
    LCR_CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,
    LCR_CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26,
    LCR_CUBLASLT_EPILOGUE_DEFAULT = 1,
    LCR_CUBLASLT_EPILOGUE_RELU = 2,
    LCR_CUBLASLT_EPILOGUE_BIAS = 4,
    LCR_CUBLASLT_EPILOGUE_RELU_BIAS = 6,
    LCR_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
    LCR_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,   // uint32_t each; cuBLASLt's default is 256
    LCR_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
    LCR_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
    LCR_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8,
};

typedef cublasStatus_t (*cublasLtCreate_t)(cublasLtHandle_t *);
typedef cublasStatus_t (*cublasLtDestroy_t)(cublasLtHandle_t);
typedef cublasStatus_t (*cublasLtMatmulDescCreate_t)(cublasLtMatmulDesc_t *, int, int);
typedef cublasStatus_t (*cublasLtMatmulDescDestroy_t)(cublasLtMatmulDesc_t);
typedef cublasStatus_t (*cublasLtMatmulDescSetAttribute_t)(cublasLtMatmulDesc_t, int, const void *, size_t);
typedef cublasStatus_t (*cublasLtMatrixLayoutCreate_t)(cublasLtMatrixLayout_t *, int, uint64_t, uint64_t, int64_t);
typedef cublasStatus_t (*cublasLtMatrixLayoutDestroy_t)(cublasLtMatrixLayout_t);
typedef cublasStatus_t (*cublasLtMatmulPreferenceCreate_t)(cublasLtMatmulPreference_t *);
typedef cublasStatus_t (*cublasLtMatmulPreferenceDestroy_t)(cublasLtMatmulPreference_t);
typedef cublasStatus_t (*cublasLtMatmulPreferenceSetAttribute_t)(cublasLtMatmulPreference_t, int, const void *, size_t);
typedef cublasStatus_t (*cublasLtMatmulAlgoGetHeuristic_t)(cublasLtHandle_t, cublasLtMatmulDesc_t,
                                                           cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                                           cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                                           cublasLtMatmulPreference_t, int,
                                                           cublasLtMatmulHeuristicResult_t *, int *);
typedef cublasStatus_t (*cublasLtMatmul_t)(cublasLtHandle_t, cublasLtMatmulDesc_t, const void *, const void *,
                                           cublasLtMatrixLayout_t, const void *, cublasLtMatrixLayout_t,
                                           const void *, const void *, cublasLtMatrixLayout_t, void *,
                                           cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t *, void *, size_t,
                                           CUstream);

typedef int nvrtcResult;                    // NVRTC_SUCCESS = 0
typedef struct _nvrtcProgram *nvrtcProgram;
typedef nvrtcResult (*nvrtcVersion_t)(int *, int *);
typedef nvrtcResult (*nvrtcCreateProgram_t)(nvrtcProgram *, const char *, const char *, int, const char *const *,
                                            const char *const *);
typedef nvrtcResult (*nvrtcCompileProgram_t)(nvrtcProgram, int, const char *const *);
typedef nvrtcResult (*nvrtcGetProgramLogSize_t)(nvrtcProgram, size_t *);
typedef nvrtcResult (*nvrtcGetProgramLog_t)(nvrtcProgram, char *);
typedef nvrtcResult (*nvrtcGetCUBINSize_t)(nvrtcProgram, size_t *);
typedef nvrtcResult (*nvrtcGetCUBIN_t)(nvrtcProgram, char *);
typedef nvrtcResult (*nvrtcDestroyProgram_t)(nvrtcProgram *);
typedef const char *(*nvrtcGetErrorString_t)(nvrtcResult);

#endif
