import Foundation
import Hummingbird

/// An error the service answers with a status code and a JSON body `{"error": …, "error_type": …}`,
/// the shape Text Embeddings Inference uses, so that TEI clients read our errors as theirs.
public struct ServiceError: Error, Equatable, CustomStringConvertible {
    /// The category of an error; its raw value is TEI's `error_type` string.
    public enum Kind: String, Sendable, Codable {
        /// The request is malformed or outside a limit (422 or 413).
        case validation = "Validation"
        /// The queue in front of the model is full (429).
        case overloaded = "Overloaded"
        /// The model failed while scoring (424, as TEI).
        case backend = "Backend"
        /// A text could not be tokenized (422).
        case tokenizer = "Tokenizer"
        /// The model is not loaded yet (503).
        case unhealthy = "Unhealthy"
        /// The feature store's database cannot be reached now (503); retrying later works once it
        /// is back, without restarting the service.
        case unavailable = "Unavailable"
        /// An index route without the right Bearer token (401).
        case unauthorized = "Unauthorized"
    }

    /// HTTP status code of the response.
    public let status: HTTPResponse.Status
    /// The `error_type` of the body.
    public let kind: Kind
    /// The `error` of the body: what is wrong, in words a client can act on.
    public let message: String

    /// Creates an error with its status, category and message.
    public init(status: HTTPResponse.Status, kind: Kind, message: String) {
        self.status = status
        self.kind = kind
        self.message = message
    }

    /// 422 Validation: malformed JSON, a wrong type, an empty query or list, a refused option.
    public static func unprocessable(_ message: String) -> ServiceError {
        ServiceError(status: .unprocessableContent, kind: .validation, message: message)
    }

    /// 413 Validation: too many texts, too many tokens, a too-long text or an oversized body.
    public static func tooLarge(_ message: String) -> ServiceError {
        ServiceError(status: .contentTooLarge, kind: .validation, message: message)
    }

    /// "status kind: message", for logs.
    public var description: String { "\(status.code) \(kind.rawValue): \(message)" }
}

/// The JSON body of every error response.
struct ErrorBody: Codable, Equatable {
    var error: String
    var errorType: String

    enum CodingKeys: String, CodingKey {
        case error
        case errorType = "error_type"
    }
}

extension ServiceError: HTTPResponseError {
    /// The JSON error response.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONEncoder().encode(ErrorBody(error: message, errorType: kind.rawValue))
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .tooManyRequests || kind == .unavailable {
            // A client that honours Retry-After spaces its retries instead of hammering a full
            // queue or a database that is coming back.
            headers[.retryAfter] = "1"
        }
        if status == .unauthorized {
            headers[.wwwAuthenticate] = "Bearer"
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension HTTPResponse.Status {
    /// 424, which TEI answers when the model fails (swift-http-types names no constant for it).
    static let failedDependency = HTTPResponse.Status(code: 424, reasonPhrase: "Failed Dependency")
}
