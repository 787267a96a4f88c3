import ListConRankerCUDA

/// The step's tail on the GPU: the kernels `accumulate_in_double`, `round_from_double`,
/// `squared_sum_blocks`, `elementwise_scale` and `adamw_update` (one launch over a whole flat
/// buffer), each computing what the CPU backend's loop computes.
extension CUDATrainingBackend {
    func accumulateInDouble(_ sums: Pointer, _ x: Pointer, count: Int, write: GradientWrite) throws {
        try module.launch("accumulate_in_double", elements: count,
                          [.address(sums.address), .address(x.address), .int64(count), .int32(write == .replace ? 1 : 0)])
    }

    func roundFromDouble(_ x: Pointer, _ sums: Pointer, count: Int, addingX: Bool) throws {
        try module.launch("round_from_double", elements: count,
                          [.address(x.address), .address(sums.address), .int64(count), .int32(addingX ? 1 : 0)])
    }

    func squaredSumBlocks(_ x: Pointer, count: Int) throws -> [Double] {
        let blocks = (count + GradientClipping.block - 1) / GradientClipping.block
        guard blocks > 0 else { return [] }
        let sums = try scratch(2 * blocks)   // one Double per block, each written
        try module.launch("squared_sum_blocks", grid: (blocks, 1, 1), block: 256,
                          [.address(x.address), .int64(count), .int64(GradientClipping.block), .address(sums.array.address)])
        let words = try withExtendedLifetime(sums) { try download(sums.pointer, count: 2 * blocks).map(\.bitPattern) }
        return (0..<blocks).map { Double(bitPattern: UInt64(words[2 * $0]) | UInt64(words[2 * $0 + 1]) << 32) }
    }

    func scale(_ x: Pointer, by factor: Float, count: Int) throws {
        try written(x, "a scaled buffer")
        try module.launch("elementwise_scale", elements: count, [.address(x.address), .float(factor), .int64(count)])
    }

    func adamWUpdate(parameters: Pointer, firstMoments: Pointer, secondMoments: Pointer, gradients: Pointer,
                     count: Int, decaying: [Range<Int>], scalars s: AdamW.StepScalars) throws {
        // The ranges as [start, end) pairs of Int64 (a few hundred for BERT-large: uploaded each step).
        let table = try device.upload(int64: decaying.flatMap { [Int64($0.lowerBound), Int64($0.upperBound)] })
        try module.launch("adamw_update", elements: count,
                          [.address(parameters.address), .address(firstMoments.address), .address(secondMoments.address),
                           .address(gradients.address), .int64(count), .address(table.address),
                           .int32(Int32(decaying.count)), .float(s.decay), .float(s.beta1Complement), .float(s.beta2),
                           .float(s.beta2Complement), .float(s.stepSize), .float(s.correction2Root), .float(s.epsilon),
                           .address(parameters.copy)])
    }
}
