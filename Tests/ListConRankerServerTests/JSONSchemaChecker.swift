import Foundation

/// A JSON value as parsed, booleans apart from numbers (JSONSerialization on Linux gives both as
/// NSNumber, which would let `true` pass for an integer).
indirect enum JSONValue: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses JSON text (any value at the top, not only objects).
    static func parse(_ bytes: some Sequence<UInt8>) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// The value as JSON text.
    var json: Data {
        get throws { try JSONSerialization.data(withJSONObject: foundationObject, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]) }
    }

    private var foundationObject: Any {
        switch self {
        case .null: NSNull()
        case let .bool(value): value
        case let .number(value): value.rounded() == value && abs(value) < 1e15 ? Int(value) as Any : value
        case let .string(value): value
        case let .array(values): values.map(\.foundationObject)
        case let .object(members): members.mapValues(\.foundationObject)
        }
    }

    subscript(key: String) -> JSONValue? {
        if case let .object(members) = self { return members[key] }
        return nil
    }

    var string: String? { if case let .string(value) = self { value } else { nil } }
    var members: [String: JSONValue]? { if case let .object(value) = self { value } else { nil } }
    var elements: [JSONValue]? { if case let .array(value) = self { value } else { nil } }

    var description: String {
        (try? json).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }
}

/// Checks JSON values against the JSON Schema subset the service's OpenAPI document uses:
/// `$ref` (local), `type` (one or a list, `null` included), `enum`, `const`, `oneOf`,
/// `properties`, `required`, `items`, `minItems`, `minLength`, `minimum`. Annotations
/// (`description`, `default`, `examples`, `title`) are read past; any other keyword is reported
/// as unsupported, so that a constraint the checker does not know never passes unchecked.
struct JSONSchemaChecker {
    /// The document `$ref`s point into (`#/components/schemas/Name`).
    let document: JSONValue
    /// Whether an object member that the schema's `properties` do not name is a problem: JSON
    /// Schema allows it, but a response field the document does not describe is one clients cannot
    /// know about.
    var rejectsUndescribedMembers = true

    static let annotations: Set<String> = ["description", "default", "examples", "title"]

    /// What is wrong with `value` for `schema`, one line each, located by a path like
    /// `$.results[0].index`; empty when it conforms.
    func problems(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        guard let keywords = schema.members else { return ["\(path): the schema \(schema) is not an object"] }
        var problems: [String] = []
        for keyword in keywords.keys.sorted() where !Self.annotations.contains(keyword) {
            guard let argument = keywords[keyword] else { continue }
            switch keyword {
            case "$ref":
                guard let resolved = resolve(argument) else {
                    problems.append("\(path): unresolvable $ref \(argument)")
                    continue
                }
                problems += self.problems(value, resolved, at: path)
            case "type":
                let allowed = argument.elements?.compactMap(\.string) ?? argument.string.map { [$0] } ?? []
                if !allowed.contains(where: { Self.value(value, isOfType: $0) }) {
                    problems.append("\(path): \(value) is not of type \(allowed.joined(separator: " | "))")
                }
            case "enum":
                if !(argument.elements ?? []).contains(value) { problems.append("\(path): \(value) is not one of \(argument)") }
            case "const":
                if value != argument { problems.append("\(path): \(value) is not \(argument)") }
            case "oneOf":
                let branches = argument.elements ?? []
                let matching = branches.filter { self.problems(value, $0, at: path).isEmpty }.count
                if matching != 1 { problems.append("\(path): \(value) matches \(matching) of oneOf's \(branches.count) schemas, not exactly one") }
            case "properties":
                guard case let .object(members) = value, let properties = argument.members else { continue }
                for (name, member) in members {
                    if let property = properties[name] {
                        problems += self.problems(member, property, at: "\(path).\(name)")
                    } else if rejectsUndescribedMembers {
                        problems.append("\(path).\(name): a member the schema does not describe")
                    }
                }
            case "required":
                guard case let .object(members) = value else { continue }
                for name in argument.elements?.compactMap(\.string) ?? [] where members[name] == nil {
                    problems.append("\(path): the required member \(name) is missing")
                }
            case "items":
                guard case let .array(elements) = value else { continue }
                for (i, element) in elements.enumerated() {
                    problems += self.problems(element, argument, at: "\(path)[\(i)]")
                }
            case "minItems":
                if case let .array(elements) = value, case let .number(least) = argument, Double(elements.count) < least {
                    problems.append("\(path): \(elements.count) items, fewer than \(Int(least))")
                }
            case "minLength":
                if case let .string(text) = value, case let .number(least) = argument, Double(text.unicodeScalars.count) < least {
                    problems.append("\(path): \(text.unicodeScalars.count) characters, fewer than \(Int(least))")
                }
            case "minimum":
                if case let .number(number) = value, case let .number(least) = argument, number < least {
                    problems.append("\(path): \(number) is below the minimum \(least)")
                }
            default:
                problems.append("\(path): the checker does not support the keyword \(keyword)")
            }
        }
        return problems
    }

    /// A local reference's target (`#/a/b` → document.a.b).
    func resolve(_ reference: JSONValue) -> JSONValue? {
        guard let text = reference.string, text.hasPrefix("#/") else { return nil }
        var node: JSONValue? = document
        for component in text.dropFirst(2).split(separator: "/") {
            node = node?[String(component).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")]
        }
        return node
    }

    private static func value(_ value: JSONValue, isOfType type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string),
             ("array", .array), ("object", .object):
            return true
        case let ("integer", .number(number)):
            return number.rounded() == number
        default:
            return false
        }
    }
}
