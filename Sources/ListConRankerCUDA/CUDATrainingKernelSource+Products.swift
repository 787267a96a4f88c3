/// The kernels of bf16 training products (issue 30, mixed precision as PyTorch's autocast does it):
/// a matrix product in bf16 mode reads bf16 copies of its two Float32 inputs, which this kernel
/// makes, and accumulates in Float32 into Float32 outputs (cuBLASLt). Kept apart from the rest of
/// ``CUDATrainingKernelSource`` (which begins with this block) so that kernels added there do not
/// meet these.
extension CUDATrainingKernelSource {
    /// The product-precision kernels' names.
    public static let productKernelNames = ["bf16_from_float_rows"]

    /// Rows of a Float32 matrix (any leading dimension, so that half of the score head's `[out, 2W]`
    /// weight converts on its own) into a dense bf16 matrix, rounded to nearest even as
    /// `torch.Tensor.to(torch.bfloat16)` rounds: the bit pattern plus `0x7fff` plus the lowest kept
    /// bit, truncated. A NaN stays a NaN (quiet, its sign and top payload kept) instead of rounding
    /// into an infinity; values past bf16's largest finite round to infinity, as in PyTorch.
    static let productSource = #"""
// ---- bf16 copies for the products (CUDATrainingBackend+Products) ---------------------------------------
// The bf16 bit pattern of x, rounded to nearest even (a NaN stays a quiet NaN).
__device__ __forceinline__ unsigned short bf16_bits(float x) {
    unsigned u = __float_as_uint(x);
    return (u & 0x7fffffffu) > 0x7f800000u ? (unsigned short)((u >> 16) | 0x40u)
                                           : (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
// A Float32 result stored as it is, or rounded once to bf16 (an output only bf16 products read): the
// kernels that write either are one template over the output's type.
__device__ __forceinline__ void store_as(float *out, float value) { *out = value; }
__device__ __forceinline__ void store_as(unsigned short *out, float value) { *out = bf16_bits(value); }
// Element i of a Float32 matrix, or of a bf16 one (its bits widened: exact), read by the kernels that
// take either.
__device__ __forceinline__ float element_value(const float *x, long i) { return x[i]; }
__device__ __forceinline__ float element_value(const unsigned short *x, long i) {
    return __uint_as_float((unsigned)x[i] << 16);
}
// out[r·cols + j] = bf16(x[r·ld + j]) for r < rows, j < cols (grid-stride over rows·cols).
extern "C" __global__ void bf16_from_float_rows(const float *x, long ld, long rows, long cols, unsigned short *out) {
    long count = rows * cols;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x)
        out[i] = bf16_bits(x[(i / cols) * ld + i % cols]);
}

"""#
}
