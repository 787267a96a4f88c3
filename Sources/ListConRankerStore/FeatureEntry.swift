/// One passage's stored encoder output, as written by ``FeatureStore/upsert(_:)``.
public struct FeatureEntry: Sendable, Equatable {
    /// The caller's passage id: any non-empty string, unique within one encoder identity.
    public var id: String
    /// The hash of the text the vector was computed from (see ``TextHash``).
    public var textHash: TextHash
    /// The mean-pooled encoder vector; its length must be the store's dimension.
    public var vector: [Float]

    /// An entry for passage `id`.
    public init(id: String, textHash: TextHash, vector: [Float]) {
        self.id = id
        self.textHash = textHash
        self.vector = vector
    }
}

/// What a store holds for one id, as returned by ``FeatureStore/vectors(for:)``.
public struct StoredVector: Sendable, Equatable {
    /// The hash the entry was written with.
    public var textHash: TextHash
    /// The vector, widened back to fp32 (exact for fp32 stores, bf16-rounded for bf16 stores).
    public var vector: [Float]

    /// A stored vector.
    public init(textHash: TextHash, vector: [Float]) {
        self.textHash = textHash
        self.vector = vector
    }
}
