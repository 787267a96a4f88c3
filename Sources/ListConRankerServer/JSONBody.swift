import Foundation
import Hummingbird

/// Reading a request body as JSON and writing JSON responses, with every failure a `ServiceError`
/// that says what is wrong and where.
enum JSONBody {
    /// Collects the body (413 beyond `limit` bytes) and decodes it (422 naming the bad field).
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        try decode(T.self, from: try await collect(request, limit: limit))
    }

    /// The body's bytes, or 413 as soon as they pass `limit` bytes.
    static func collect(_ request: Request, limit: Int) async throws -> Data {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw ServiceError.tooLarge("the body has \(declared) bytes, more than the payload limit \(limit)")
        }
        // Counted chunk by chunk: a chunked body declares no length, and must not be buffered whole.
        var buffer = ByteBuffer()
        for try await chunk in request.body {
            guard buffer.readableBytes + chunk.readableBytes <= limit else {
                throw ServiceError.tooLarge("the body has more than the payload limit of \(limit) bytes")
            }
            buffer.writeImmutableBuffer(chunk)
        }
        return Data(buffer.readableBytesView)
    }

    /// Decodes collected body bytes (422 naming the bad field). Apart from the collecting, so that
    /// the rerank routes' decoding runs on plain bytes (RerankRequestDecoding, the fuzz harness).
    static func decode<T: Decodable>(_ type: T.Type, from body: Data) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch let error as DecodingError {
            throw ServiceError.unprocessable(describe(error))
        }
    }

    /// A 200 response with `value` as its JSON body.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// "`texts[2]`: expected a string", "missing field `query`", "the body is not valid JSON: …".
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, let context):
            let expected = context.debugDescription.hasPrefix("expected")
                ? context.debugDescription : "expected \(jsonTypeName(type))"
            return context.codingPath.isEmpty
                ? "the body must be a JSON object: \(expected)"
                : "\(path(context.codingPath)): \(expected)"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(jsonTypeName(type)), got null"
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context.codingPath))"
            return "missing field `\(key.stringValue)`\(parent)"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return "the body is not valid JSON: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)"
            }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "the body does not match the request schema: \(error)"
        }
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return "`\(text)`"
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Float.Type, is Double.Type: "a number"
        case is [String].Type, is [CohereDocument].Type: "an array"
        default: "a value of type \(type)"
        }
    }
}
