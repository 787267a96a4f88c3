/// Where model code takes its weights from: named Float32 tensors, checked against the
/// shape the model expects. The model knows key names; it knows nothing of file formats.
public protocol WeightSource {
    /// The tensor `name`, whose shape must equal `shape`; the error names the file, the key
    /// and the problem otherwise.
    func tensor(_ name: String, shape: [Int]) throws -> Tensor
    /// The stored shape of `name`, or nil when there is no such tensor (for widths that the
    /// model reads off the weights, and for optional keys).
    func shape(of name: String) -> [Int]?
    /// Every floating-point key the source holds, so a model can account for each one.
    var names: [String] { get }
    /// Where the weights come from (a file path), for messages.
    var origin: String { get }
}

extension WeightSource {
    /// A product on `backend` from `prefix.weight` `[outFeatures, inFeatures]` and `prefix.bias`
    /// (plain `weight` and `bias` when `prefix` is empty, as in `linear_in_embedding.pt`).
    func product<Backend: ComputeBackend>(_ prefix: String, out outFeatures: Int, in inFeatures: Int, on backend: Backend,
                                          activation: ProductActivation = .none,
                                          feedsProduct: Bool = false) throws -> Backend.Product {
        let dot = prefix.isEmpty ? "" : "\(prefix)."
        let weight = try tensor("\(dot)weight", shape: [outFeatures, inFeatures])
        let bias = try tensor("\(dot)bias", shape: [outFeatures])
        return try backend.product(weight: weight, bias: bias, activation: activation, feedsProduct: feedsProduct)
    }

    /// A LayerNorm's scale and shift on `backend`: `prefix.weight`/`prefix.bias`, or the older
    /// `prefix.gamma`/`prefix.beta` that some BERT checkpoints use.
    func layerNorm<Backend: ComputeBackend>(_ prefix: String, width: Int, eps: Float,
                                            on backend: Backend) throws -> Backend.Normalization {
        if shape(of: "\(prefix).weight") == nil, shape(of: "\(prefix).gamma") != nil {
            return try backend.normalization(gamma: try tensor("\(prefix).gamma", shape: [width]),
                                             beta: try tensor("\(prefix).beta", shape: [width]), eps: eps)
        }
        return try backend.normalization(gamma: try tensor("\(prefix).weight", shape: [width]),
                                         beta: try tensor("\(prefix).bias", shape: [width]), eps: eps)
    }

    /// The number of layers stored under `prefix` (`list_transformer.layers.` → the distinct N in
    /// `list_transformer.layers.N.…`); layers must be numbered 0 to count − 1.
    func layerCount(under prefix: String) throws -> Int {
        var numbers = Set<Int>()
        for name in names where name.hasPrefix(prefix) {
            if let number = name.dropFirst(prefix.count).split(separator: ".").first.flatMap({ Int($0) }) {
                numbers.insert(number)
            }
        }
        guard numbers == Set(0..<numbers.count) else {
            throw ModelError.inconsistentWeights("\(origin): layers under \"\(prefix)\" are numbered \(numbers.sorted()), not 0 to \(numbers.count - 1)")
        }
        return numbers.count
    }
}

/// A ``WeightSource`` that remembers which keys the model bound, so that a loader accounts for
/// every key of a file (as nanoGPT's loader does): a key nobody reads is reported, not ignored.
final class KeyAccountingWeights: WeightSource {
    private let base: any WeightSource
    private var bound = Set<String>()

    init(_ base: any WeightSource) { self.base = base }

    func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        bound.insert(name)
        return try base.tensor(name, shape: shape)
    }

    func shape(of name: String) -> [Int]? { base.shape(of: name) }
    var names: [String] { base.names }
    var origin: String { base.origin }

    /// Throws ``ModelError/unusedWeights(_:_:)`` when a key was never bound and is not under one
    /// of the documented `unusedPrefixes`.
    func requireEveryKeyBound(exceptUnder unusedPrefixes: [String]) throws {
        let unused = names.filter { name in !bound.contains(name) && !unusedPrefixes.contains { name.hasPrefix($0) } }
        guard unused.isEmpty else { throw ModelError.unusedWeights(origin, unused.sorted()) }
    }
}
