/// The step's tail on the CPU backend: the host's own ``GradientSum``, ``GradientClipping`` and
/// ``AdamW`` loops, on buffers addressed like every other operation's.
extension CPUTrainingBackend {
    func accumulateInDouble(_ sums: Pointer, _ x: Pointer, count: Int, write: GradientWrite) {
        let sums = UnsafeMutableRawPointer(sums).bindMemory(to: Double.self, capacity: count)
        for i in 0..<count {
            sums[i] = write == .replace ? Double(x[i]) : sums[i] + Double(x[i])
            x[i] = 0
        }
    }

    func roundFromDouble(_ x: Pointer, _ sums: Pointer, count: Int, addingX: Bool) {
        let sums = UnsafeMutableRawPointer(sums).bindMemory(to: Double.self, capacity: count)
        for i in 0..<count { x[i] = Float(addingX ? sums[i] + Double(x[i]) : sums[i]) }
    }

    func squaredSumBlocks(_ x: Pointer, count: Int) -> [Double] {
        GradientClipping.squaredSumBlocks(UnsafeBufferPointer(start: x, count: count))
    }

    func scale(_ x: Pointer, by factor: Float, count: Int) { ElementOps.scale(x, by: factor, count: count) }

    func adamWUpdate(parameters: Pointer, firstMoments: Pointer, secondMoments: Pointer, gradients: Pointer,
                     count: Int, decaying: [Range<Int>], scalars: AdamW.StepScalars) {
        AdamW.update(parameters: parameters, firstMoments: firstMoments, secondMoments: secondMoments,
                     gradients: gradients, count: count, decaying: decaying, scalars: scalars)
    }
}
