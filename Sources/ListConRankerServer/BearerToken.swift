import Hummingbird

/// The `--api-key` check of the index routes: `Authorization: Bearer <key>`, as Text Embeddings
/// Inference's `--api-key` has it.
struct BearerToken: Sendable {
    private let key: [UInt8]

    init(key: String) {
        self.key = Array(key.utf8)
    }

    /// Throws 401 Unauthorized unless the request carries the key.
    func authorize(_ request: Request) throws(ServiceError) {
        guard let header = request.headers[.authorization] else {
            throw Self.unauthorized("missing `Authorization: Bearer <api key>` header")
        }
        let scheme = "bearer "
        guard header.count > scheme.count, header.prefix(scheme.count).lowercased() == scheme else {
            throw Self.unauthorized("the `Authorization` header must be `Bearer <api key>`")
        }
        let presented = Array(header.dropFirst(scheme.count).trimmingPrefixWhitespace().utf8)
        guard Self.constantTimeEqual(presented, key) else {
            throw Self.unauthorized("wrong API key")
        }
    }

    /// Compares without returning early at the first difference, so the response time does not
    /// tell an attacker how many leading bytes they guessed. (The length still shows; the key's
    /// length is not the secret.)
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }

    private static func unauthorized(_ message: String) -> ServiceError {
        ServiceError(status: .unauthorized, kind: .unauthorized, message: "Unauthorized: \(message)")
    }
}

private extension Substring {
    func trimmingPrefixWhitespace() -> Substring { drop { $0 == " " } }
}
