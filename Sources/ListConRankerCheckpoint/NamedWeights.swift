import Foundation
import ListConRankerTensor

/// Looks weights up by the names model code uses, over the key variants real checkpoints have.
///
/// A key is found as given or with a `bert.` prefix (the official BERT file may use
/// `BertForX` names such as `bert.encoder.layer.0…`). Which keys a model uses, and which it
/// may leave unread, is the model's business, not the format's.
///
/// ``scoped(_:)`` gives a view under a key prefix (like candle's `vb.pp("encoder")`), so a
/// layer binds `attention.self.query.weight` without spelling the full path. Errors name
/// the full key and the file.
public struct NamedWeights: Sendable {
    /// Prefixes tried, in order, in front of a requested key.
    public static let keyPrefixes = ["", "bert."]

    /// The checkpoint read.
    public let store: any TensorStore
    /// The key prefix this view adds (empty, or ending in `.`).
    public let scope: String

    /// Weights of `store`, looked up from the root.
    public init(_ store: any TensorStore) {
        self.init(store: store, scope: "")
    }

    private init(store: any TensorStore, scope: String) {
        self.store = store
        self.scope = scope
    }

    /// A view whose lookups are under `prefix` (e.g. `encoder.layer.3`).
    public func scoped(_ prefix: String) -> NamedWeights {
        guard !prefix.isEmpty else { return self }
        return NamedWeights(store: store, scope: scope + (prefix.hasSuffix(".") ? prefix : prefix + "."))
    }

    /// Every floating-point key of the file that model code may bind, with any `bert.`
    /// prefix removed, sorted.
    public var names: [String] {
        let stripped = store.descriptors.map(\.name).map { name in
            name.hasPrefix("bert.") ? String(name.dropFirst("bert.".count)) : name
        }
        return Array(Set(stripped)).sorted()
    }

    /// The file the weights come from, for messages.
    public var origin: String { store.url.path }

    /// The key `name` (under this view's scope) has in the file, or nil if it has none.
    public func storedName(_ name: String) -> String? {
        let key = scope + name
        for prefix in Self.keyPrefixes where store.descriptor(named: prefix + key) != nil {
            return prefix + key
        }
        return nil
    }

    /// Whether the file has `name` (under this view's scope).
    public func contains(_ name: String) -> Bool { storedName(name) != nil }

    /// The descriptor of `name`; throws `missing key "…" in FILE` if absent.
    public func descriptor(_ name: String) throws -> TensorDescriptor {
        guard let stored = storedName(name), let descriptor = store.descriptor(named: stored) else {
            let key = scope + name
            throw CheckpointError(file: store.url, problem: "missing key \"\(key)\"") { file in
                "missing key \"\(key)\" in \(file)"
            }
        }
        return descriptor
    }

    /// The tensor `name` as Float32; throws if it is missing.
    public func tensor(_ name: String) throws -> Tensor {
        let descriptor = try descriptor(name)
        return try store.tensor(named: descriptor.name)
    }

    /// The tensor `name` as Float32, which must have shape `shape`.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        let descriptor = try checkedDescriptor(name, shape: shape)
        return try store.tensor(named: descriptor.name)
    }

    /// The tensor `name` with BFloat16 storage (copied as is where the file holds BF16),
    /// which must have shape `shape`.
    public func bfloat16Tensor(_ name: String, shape: [Int]) throws -> Tensor {
        let descriptor = try checkedDescriptor(name, shape: shape)
        return try store.bfloat16Tensor(named: descriptor.name)
    }

    private func checkedDescriptor(_ name: String, shape: [Int]) throws -> TensorDescriptor {
        let descriptor = try descriptor(name)
        guard descriptor.shape == shape else {
            throw CheckpointError(file: store.url,
                                  problem: "tensor \"\(descriptor.name)\" has shape \(descriptor.shape), expected \(shape)") {
                "tensor \"\(descriptor.name)\" in \($0) has shape \(descriptor.shape), expected \(shape)"
            }
        }
        return descriptor
    }
}
