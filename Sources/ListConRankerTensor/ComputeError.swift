/// A failure inside the compute core: a shape that does not fit an operation, or an
/// error reported by oneDNN.
public struct ComputeError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in words.
    public let description: String

    /// Creates an error with a message.
    public init(_ description: String) { self.description = description }
}

extension ComputeError {
    /// An error carrying the NUL-terminated message a C kernel wrote into `buffer`.
    init(_ context: String, cMessage buffer: [CChar]) {
        self.init("\(context): \(String(nulTerminated: buffer))")
    }
}

extension String {
    /// The UTF-8 text a C function wrote into `buffer`, up to its first NUL.
    package init(nulTerminated buffer: [CChar]) {
        self.init(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
