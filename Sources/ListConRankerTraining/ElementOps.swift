/// Plain element-wise arithmetic on activation buffers, split over the cores.
enum ElementOps {
    /// Elements per share of a split loop: below this, a thread costs more than it saves.
    static let elementsPerShare = 16_384

    /// `x[i] += y[i]` (a residual add).
    static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        ParallelLoop.shares(count, minimumPerShare: elementsPerShare) { share in
            for i in share { x[i] += y[i] }
        }
    }
}
