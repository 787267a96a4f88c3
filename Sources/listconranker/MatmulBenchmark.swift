import CDNNL
import Foundation
import ListConRanker

/// Times `Linear` (our API: packed weights, run-time row count, output allocation, bf16
/// conversion of the input) against a raw oneDNN matmul primitive of the same shape with
/// fixed dimensions, in the same process, and reports the ratio.
enum MatmulBenchmark {
    struct Result: Codable {
        var m: Int, k: Int, n: Int
        var precision: String
        var ourSeconds: Double
        var rawSeconds: Double
        var ourGFLOPs: Double
        var rawGFLOPs: Double
        /// raw time / our time: 1.0 means no overhead.
        var ratio: Double
        /// The oneDNN implementations that ran each side (ours may differ from oneDNN's first
        /// choice: `Linear.implementation(rows:)`).
        var ourImplementation: String
        var rawImplementation: String
    }

    static func run(m: Int, k: Int, n: Int, precision: Precision, iterations: Int) throws -> Result {
        var seed: UInt32 = 12345
        func random() -> Float {
            seed = seed &* 1_103_515_245 &+ 12345
            return Float(seed >> 8) / Float(1 << 24) - 0.5
        }
        let x = Tensor(shape: [m, k], scalars: (0..<(m * k)).map { _ in random() })
        let w = Tensor(shape: [n, k], scalars: (0..<(n * k)).map { _ in random() })
        let b = Tensor(shape: [n], scalars: (0..<n).map { _ in random() })

        let layer = try Linear(weight: w, bias: b, precision: precision)
        _ = try layer(x)  // warm up
        var ours = [Double]()
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try layer(x)
            ours.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let (raw, rawImplementation) = try rawOneDNN(x: x, w: w, b: b, precision: precision, iterations: iterations)
        let flops = 2.0 * Double(m) * Double(k) * Double(n)
        let ourBest = ours.sorted()[ours.count / 2], rawBest = raw.sorted()[raw.count / 2]
        return Result(m: m, k: k, n: n, precision: precision.rawValue, ourSeconds: ourBest, rawSeconds: rawBest,
                      ourGFLOPs: flops / ourBest / 1e9, rawGFLOPs: flops / rawBest / 1e9, ratio: rawBest / ourBest,
                      ourImplementation: try layer.implementation(rows: m), rawImplementation: rawImplementation)
    }

    /// A tensor's elements as the untyped pointer oneDNN's memory objects take.
    private static func bytes<R>(of tensor: Tensor, _ body: (UnsafeMutableRawPointer?) throws -> R) rethrows -> R {
        if tensor.dtype == .bfloat16 {
            return try tensor.withBFloat16Bits { try body(UnsafeMutableRawPointer(mutating: $0.baseAddress)) }
        }
        return try tensor.withFloats { try body(UnsafeMutableRawPointer(mutating: $0.baseAddress)) }
    }

    /// The peer: one oneDNN matmul primitive for exactly this shape, weights reordered once into
    /// the layout it prefers, inputs already in the product's type; only `execute` is timed.
    /// For int8 the peer is fp32: what the quantised product is meant to beat.
    private static func rawOneDNN(x: Tensor, w: Tensor, b: Tensor, precision: Precision,
                                  iterations: Int) throws -> (times: [Double], implementation: String) {
        let m = Int64(x.shape[0]), k = Int64(x.shape[1]), n = Int64(w.shape[0])
        func check(_ status: dnnl_status_t, _ what: String) throws {
            guard status == dnnl_success else { throw ComputeError("raw oneDNN \(what): status \(status.rawValue)") }
        }
        var engine: dnnl_engine_t?
        var stream: dnnl_stream_t?
        try check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine")
        try check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "stream")
        let type = precision == .bf16 ? dnnl_bf16 : dnnl_f32
        var srcMD = dnnl_memory_desc_t(), wAnyMD = dnnl_memory_desc_t(), wPlainMD = dnnl_memory_desc_t()
        var biasMD = dnnl_memory_desc_t(), dstMD = dnnl_memory_desc_t()
        var srcDims: [Int64] = [m, k], wDims: [Int64] = [k, n], bDims: [Int64] = [1, n], dDims: [Int64] = [m, n]
        srcDims.reserveCapacity(12); wDims.reserveCapacity(12); bDims.reserveCapacity(12); dDims.reserveCapacity(12)
        try check(dnnl_memory_desc_init_by_tag(&srcMD, 2, &srcDims, type, dnnl_ab), "src md")
        try check(dnnl_memory_desc_init_by_tag(&wAnyMD, 2, &wDims, type, dnnl_format_tag_any), "weights md")
        try check(dnnl_memory_desc_init_by_tag(&wPlainMD, 2, &wDims, type, dnnl_ba), "plain weights md")
        try check(dnnl_memory_desc_init_by_tag(&biasMD, 2, &bDims, dnnl_f32, dnnl_ab), "bias md")
        try check(dnnl_memory_desc_init_by_tag(&dstMD, 2, &dDims, dnnl_f32, dnnl_ab), "dst md")
        var desc = dnnl_matmul_desc_t()
        try check(dnnl_matmul_desc_init(&desc, &srcMD, &wAnyMD, &biasMD, &dstMD), "matmul desc")
        var pd: dnnl_primitive_desc_t?
        try check(dnnl_primitive_desc_create(&pd, &desc, nil, engine, nil), "primitive desc")
        var primitive: dnnl_primitive_t?
        try check(dnnl_primitive_create(&primitive, pd), "primitive")
        var implementationName: UnsafePointer<CChar>?
        try check(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &implementationName), "implementation")
        let implementation = implementationName.map { String(cString: $0) } ?? ""
        guard let packedMDPointer = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0) else {
            throw ComputeError("raw oneDNN: no weights descriptor")
        }
        var packedMD = packedMDPointer.pointee

        // Inputs in the product's element type, prepared outside the timed loop. Every buffer is
        // a tensor, so it starts on a 64-byte boundary as ours do (BENCHMARKS.md, "Alignment").
        let xTyped = precision == .bf16 ? x.toBFloat16() : x, wTyped = precision == .bf16 ? w.toBFloat16() : w
        let bias = b.toFloat32()
        var packed = Tensor(zeros: [(dnnl_memory_desc_get_size(&packedMD) + 3) / 4])
        var dst = Tensor(zeros: [Int(m * n)])
        var times = [Double]()
        try bytes(of: xTyped) { xp in
            try bytes(of: wTyped) { wp in
                try packed.withMutableFloats { pp in
                    try bytes(of: bias) { bp in
                        try dst.withMutableFloats { dp in
                            var plainMem: dnnl_memory_t?, packedMem: dnnl_memory_t?
                            var srcMem: dnnl_memory_t?, biasMem: dnnl_memory_t?, dstMem: dnnl_memory_t?
                            try check(dnnl_memory_create(&plainMem, &wPlainMD, engine, wp), "plain mem")
                            try check(dnnl_memory_create(&packedMem, &packedMD, engine, pp.baseAddress), "packed mem")
                            try check(dnnl_memory_create(&srcMem, &srcMD, engine, xp), "src mem")
                            try check(dnnl_memory_create(&biasMem, &biasMD, engine, bp), "bias mem")
                            try check(dnnl_memory_create(&dstMem, &dstMD, engine, dp.baseAddress), "dst mem")
                            var reorderPD: dnnl_primitive_desc_t?
                            var reorder: dnnl_primitive_t?
                            try check(dnnl_reorder_primitive_desc_create(&reorderPD, &wPlainMD, engine, &packedMD, engine, nil), "reorder pd")
                            try check(dnnl_primitive_create(&reorder, reorderPD), "reorder")
                            var rargs = [dnnl_exec_arg_t(arg: Int32(DNNL_ARG_FROM), memory: plainMem),
                                         dnnl_exec_arg_t(arg: Int32(DNNL_ARG_TO), memory: packedMem)]
                            try check(dnnl_primitive_execute(reorder, stream, 2, &rargs), "reorder")
                            var args = [dnnl_exec_arg_t(arg: Int32(DNNL_ARG_SRC), memory: srcMem),
                                        dnnl_exec_arg_t(arg: Int32(DNNL_ARG_WEIGHTS), memory: packedMem),
                                        dnnl_exec_arg_t(arg: Int32(DNNL_ARG_BIAS), memory: biasMem),
                                        dnnl_exec_arg_t(arg: Int32(DNNL_ARG_DST), memory: dstMem)]
                            try check(dnnl_primitive_execute(primitive, stream, 4, &args), "warm-up")
                            try check(dnnl_stream_wait(stream), "wait")
                            for _ in 0..<iterations {
                                let start = DispatchTime.now().uptimeNanoseconds
                                try check(dnnl_primitive_execute(primitive, stream, 4, &args), "matmul")
                                try check(dnnl_stream_wait(stream), "wait")
                                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                            }
                            for mem in [plainMem, packedMem, srcMem, biasMem, dstMem] { dnnl_memory_destroy(mem) }
                            dnnl_primitive_destroy(reorder)
                            dnnl_primitive_desc_destroy(reorderPD)
                        }
                    }
                }
            }
        }
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(pd)
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
        return (times, implementation)
    }
}
