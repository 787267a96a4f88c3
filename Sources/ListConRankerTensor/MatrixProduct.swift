import CDNNL

/// Float32 matrix products on raw row-major buffers, for code that keeps its own memory (the
/// training passes, whose products dominate a step): the one place outside this target's
/// tensors that calls oneDNN's `sgemm`, so every product goes through this layer and oneDNN is
/// linked once.
public enum MatrixProduct {
    /// `c[m, n] = op(a)[m, k] · op(b)[k, n] + beta · c`, row-major; `op` transposes where
    /// `transA` / `transB` say (then `a` is `[k, m]`, `b` is `[n, k]` as stored). `lda`, `ldb`
    /// and `ldc` are the stored row lengths. One call into oneDNN's `dnnl_sgemm`: nothing is
    /// added to the product's time but a function call.
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>,
                             ldc: Int) throws(ComputeError) {
        let status = dnnl_sgemm(CChar(UInt8(ascii: transA ? "T" : "N")), CChar(UInt8(ascii: transB ? "T" : "N")),
                                dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), 1, a, dnnl_dim_t(lda),
                                b, dnnl_dim_t(ldb), beta, c, dnnl_dim_t(ldc))
        guard status == dnnl_success else {
            throw ComputeError("dnnl_sgemm [\(m)×\(k)]·[\(k)×\(n)] returned status \(status.rawValue)")
        }
    }
}
