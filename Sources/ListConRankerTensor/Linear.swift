import CKernels
import Foundation

/// Matrix-product precision: Float32 throughout; 16-bit inputs (BFloat16, or IEEE half on a GPU)
/// with Float32 accumulation; or int8 inputs with int32 accumulation (the CPU).
public enum Precision: String, Sendable, CaseIterable, Codable {
    /// Float32 products (on a GPU without TF32): the parity mode.
    case fp32
    /// BFloat16 inputs, Float32 accumulation.
    case bf16
    /// IEEE half-precision inputs, Float32 accumulation: GPUs only.
    case fp16
    /// Weights quantised to int8 once per output channel, activations per row at each product,
    /// both symmetric; int32 accumulation, rescaled to Float32 before the bias and GELU. Only
    /// the dense products a model chooses run in int8 (the BERT encoder's and
    /// `linear_in_embedding`); see ``productPrecisionOutsideEncoder``.
    case int8

    /// bf16 where the CPU multiplies bf16 natively (AVX512-BF16, AMX), else fp32.
    public static var automatic: Precision { nativeBFloat16Available ? .bf16 : .fp32 }

    /// Whether this CPU runs bf16 matrix products natively.
    public static var nativeBFloat16Available: Bool { lcr_cpu_has_native_bf16() != 0 }

    /// Whether this CPU runs bf16 matrix products at all (natively or emulated on AVX-512);
    /// oneDNN has none for CPUs without AVX-512.
    public static var bfloat16ProductsAvailable: Bool { lcr_cpu_runs_bf16_products() != 0 }

    /// Whether oneDNN has an int8 matrix-product kernel for this CPU (any x86-64 CPU with SSE4.1
    /// has one; AVX2 and AVX-512 VNNI run it fastest) rather than only its reference loops.
    public static var int8ProductsAvailable: Bool { lcr_cpu_runs_int8_products() != 0 }

    /// The largest quantised activation (u8) of an int8 product on this CPU: 255 with VNNI
    /// (AVX-512 VNNI, AVX2-VNNI), 127 without, where oneDNN multiplies with 16-bit sums that
    /// full-range activations would saturate. Without VNNI int8 is therefore somewhat less accurate.
    public static var int8ActivationLevels: Int { Int(lcr_int8_activation_levels()) }

    /// The precision for products outside the BERT encoder and `linear_in_embedding` (the list
    /// head): int8 quantises only the encoder's products, whose cost dominates; the head is
    /// about 1% of a pass and scores straight from its products, so it keeps Float32.
    public var productPrecisionOutsideEncoder: Precision { self == .int8 ? .fp32 : self }

    var kernelPrecision: lcr_precision {
        switch self {
        case .fp32: return LCR_F32
        case .bf16: return LCR_BF16
        case .int8: return LCR_INT8
        case .fp16: return LCR_F32   // never reached: Linear refuses fp16 (GPU only) before it asks
        }
    }
}

/// A linear layer `y = x·Wᵀ + b` (optionally followed by GELU) with PyTorch's `[out, in]`
/// weight layout, prepared once on oneDNN (weights reordered, converted to bf16 or quantised to
/// int8 if asked; see ``Precision/int8``).
/// Thread-safe: calls are serialised.
public final class Linear: @unchecked Sendable {
    /// Output features.
    public let outFeatures: Int
    /// Input features.
    public let inFeatures: Int
    /// Precision of the product.
    public let precision: Precision
    /// Whether the output has BFloat16 storage (for a next bf16 product to take as is).
    public let bf16Output: Bool
    private let handle: OpaquePointer
    private let lock = NSLock()

    /// Prepares `weight [out, in]` and an optional `bias [out]`. `fuseGELU` applies GELU (erf)
    /// to the output inside the product. `bf16Output` (bf16 precision only) writes the output
    /// with BFloat16 storage, which a following bf16 product reads without a conversion.
    public init(weight: Tensor, bias: Tensor?, precision: Precision = .fp32, fuseGELU: Bool = false,
                bf16Output: Bool = false) throws {
        guard weight.shape.count == 2 else { throw ComputeError("Linear: weight must be 2-D, got \(weight.shape)") }
        let n = weight.shape[0], k = weight.shape[1]
        if let bias, bias.count != n { throw ComputeError("Linear: bias \(bias.shape) does not match \(n) outputs") }
        if precision == .fp16 {
            throw ComputeError("fp16 matrix products run on a GPU only: on the CPU use fp32 or bf16")
        }
        if precision == .bf16 && !Precision.bfloat16ProductsAvailable {
            throw ComputeError("bf16 matrix products need a CPU with AVX-512, and this one has none: use fp32 (or auto)")
        }
        if precision == .int8 && !Precision.int8ProductsAvailable {
            throw ComputeError("int8 matrix products are not available on this CPU: oneDNN has no int8 kernel for it "
                               + "(only its reference loops, many times slower than fp32): use fp32")
        }
        var error = [CChar](repeating: 0, count: 256)
        var created: OpaquePointer?
        let biasValues = bias?.toFloat32().scalars
        // Weights arrive as Float32 (the checkpoint readers convert); oneDNN reorders them once,
        // to bf16 as well for a bf16 product (an int8 one quantises them first).
        let status = weight.toFloat32().withFloats { wp in
            lcr_linear_create(&created, wp.baseAddress, biasValues, Int64(n), Int64(k),
                              precision.kernelPrecision, fuseGELU ? 1 : 0,
                              bf16Output ? 1 : 0, &error, 256)
        }
        guard status == 0, let created else {
            throw ComputeError("Linear [\(n), \(k)] \(precision)", cMessage: error)
        }
        self.handle = created
        self.outFeatures = n
        self.inFeatures = k
        self.precision = precision
        self.bf16Output = bf16Output
    }

    deinit { lcr_linear_destroy(handle) }

    /// The oneDNN implementation that runs this product for `rows` rows, such as
    /// `brg:avx512_core_amx_bf16` or `gemm:jit`: for benchmarks and diagnostics.
    ///
    /// oneDNN offers several implementations of one product. Where it has one, a bf16 product
    /// whose input is wider than its output runs on oneDNN's `gemm:jit` instead of the brgemm
    /// kernels oneDNN would pick first (BENCHMARKS.md, "Which oneDNN implementation").
    public func implementation(rows: Int) throws -> String {
        var name = [CChar](repeating: 0, count: 128)
        var error = [CChar](repeating: 0, count: 256)
        let status = lock.withLock { lcr_linear_implementation(handle, Int64(rows), &name, 128, &error, 256) }
        guard status == 0 else { throw ComputeError("Linear [\(outFeatures), \(inFeatures)]", cMessage: error) }
        return String(nulTerminated: name)
    }

    /// `x [rows, in] → [rows, out]`. A bf16 product takes `x` with either storage; an fp32 or
    /// int8 product converts BFloat16 input to Float32 first (int8 quantises Float32 rows).
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard x.shape.count == 2, x.shape[1] == inFeatures else {
            throw ComputeError("Linear [\(outFeatures), \(inFeatures)]: input shape \(x.shape)")
        }
        let rows = x.shape[0]
        if rows == 0 { return Tensor(zeros: [0, outFeatures]) }
        let input = precision == .bf16 ? x : x.toFloat32()
        var error = [CChar](repeating: 0, count: 256)
        var status: Int32 = 0
        func run(_ output: UnsafeMutableRawPointer?) {
            if input.dtype == .bfloat16 {
                status = input.withBFloat16Bits { lcr_linear_run(handle, $0.baseAddress, 1, Int64(rows), output, &error, 256) }
            } else {
                status = input.withFloats { lcr_linear_run(handle, $0.baseAddress, 0, Int64(rows), output, &error, 256) }
            }
        }
        let out: Tensor = lock.withLock {
            if bf16Output {
                return Tensor(uninitializedBFloat16Shape: [rows, outFeatures]) { o in run(UnsafeMutableRawPointer(o.baseAddress)) }
            }
            return Tensor(uninitializedShape: [rows, outFeatures]) { o in run(UnsafeMutableRawPointer(o.baseAddress)) }
        }
        guard status == 0 else { throw ComputeError("Linear [\(outFeatures), \(inFeatures)]", cMessage: error) }
        return out
    }
}
