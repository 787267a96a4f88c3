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

    /// `x[i] *= y[i]`.
    static func multiply(_ x: UnsafeMutablePointer<Float>, by y: UnsafePointer<Float>, count: Int) {
        ParallelLoop.shares(count, minimumPerShare: elementsPerShare) { share in
            for i in share { x[i] *= y[i] }
        }
    }

    /// `z[i] = x[i] * y[i]`.
    static func product(_ z: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                        count: Int) {
        ParallelLoop.shares(count, minimumPerShare: elementsPerShare) { share in
            for i in share { z[i] = x[i] * y[i] }
        }
    }

    /// `x[i] = x[i] * y[i] + z[i]`, rounded after the product and after the sum (Swift does not
    /// contract the two into a fused multiply-add), as ``multiply(_:by:count:)`` then ``add(_:_:count:)``.
    static func multiplyAdd(_ x: UnsafeMutablePointer<Float>, by y: UnsafePointer<Float>, adding z: UnsafePointer<Float>,
                            count: Int) {
        ParallelLoop.shares(count, minimumPerShare: elementsPerShare) { share in
            for i in share { x[i] = x[i] * y[i] + z[i] }
        }
    }

    /// `x[i] *= factor`.
    static func scale(_ x: UnsafeMutablePointer<Float>, by factor: Float, count: Int) {
        ParallelLoop.shares(count, minimumPerShare: elementsPerShare) { share in
            for i in share { x[i] *= factor }
        }
    }
}
