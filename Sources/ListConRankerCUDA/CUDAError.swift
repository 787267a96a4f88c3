import ListConRankerTensor

/// Why the GPU backend cannot run: a library that is missing, a GPU the driver does not have, a
/// kernel NVRTC refused, a request too large for the GPU's memory, or a failure the driver reported.
public struct CUDAError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in one line that names what was looked for and where.
    public let description: String

    /// Creates an error with a message.
    public init(_ description: String) { self.description = description }

    /// An error carrying the NUL-terminated message the C layer wrote into `buffer`.
    init(_ context: String, cMessage buffer: [CChar]) {
        let message = String(nulTerminated: buffer)
        self.init(message.isEmpty ? context : "\(context): \(message)")
    }
}

/// Runs a C call of the CCUDA layer that reports failure by a non-zero status and a message.
func cudaCall(_ context: @autoclosure () -> String,
              _ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
    var message = [CChar](repeating: 0, count: 1024)
    let status = message.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
    guard status == 0 else { throw CUDAError(context(), cMessage: message) }
}

