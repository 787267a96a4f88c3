import Foundation

/// The element-wise activations of the list head, forward and backward.
enum ActivationOps {
    /// GELU in its exact (erf) form, as `F.gelu` without approximation:
    /// `y = ½ x (1 + erf(x/√2))`.
    static func geluForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = 0.5 * x[i] * (1 + erf(x[i] * Float(0.5).squareRoot())) }
    }

    /// `dx += dy · (½ (1 + erf(x/√2)) + x · φ(x))`, φ the standard normal density.
    static func geluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                             count: Int) {
        let inverseRootTwoPi = 1 / (2 * Float.pi).squareRoot()
        for i in 0..<count {
            let v = x[i]
            let cdf = 0.5 * (1 + erf(v * Float(0.5).squareRoot()))
            dx[i] += dy[i] * (cdf + v * exp(-0.5 * v * v) * inverseRootTwoPi)
        }
    }

    /// `y = max(x, 0)`.
    static func reluForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = x[i] > 0 ? x[i] : 0 }
    }

    /// `dx += dy` where the forward's input was positive (PyTorch's ReLU passes no gradient at 0).
    static func reluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                             count: Int) {
        for i in 0..<count where x[i] > 0 { dx[i] += dy[i] }
    }
}
