import CKernels
import Foundation

/// The element-wise activations of the list head and the encoder, forward and backward (GELU on
/// oneDNN: BERT's intermediate activations are its largest).
enum ActivationOps {

    /// GELU in its exact (erf) form, as `F.gelu` without approximation:
    /// `y = ½ x (1 + erf(x/√2))`, on oneDNN's eltwise primitive (vectorised, split over the cores).
    static func geluForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) throws {
        try run("GELU forward") { lcr_gelu_erf_forward(y, x, Int64(count), $0, $1) }
    }

    /// `dx = dy · (½ (1 + erf(x/√2)) + x · φ(x))`, φ the standard normal density (`dx` is
    /// overwritten, not accumulated: its callers start from a fresh buffer).
    static func geluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                             count: Int) throws {
        try run("GELU backward") { lcr_gelu_erf_backward(dx, dy, x, Int64(count), $0, $1) }
    }

    /// Calls a C kernel that reports failure with a message.
    private static func run(_ what: String, _ kernel: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
        var message = [CChar](repeating: 0, count: 256)
        let status = message.withUnsafeMutableBufferPointer { kernel($0.baseAddress!, $0.count) }
        guard status == 0 else {
            throw TrainingError.computeFailed("\(what): \(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
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
