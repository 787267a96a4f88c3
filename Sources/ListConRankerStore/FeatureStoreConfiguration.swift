/// What a store is bound to: one encoder identity, one vector dimension, one precision.
///
/// The encoder identity is computed by the caller (DESIGN.md §9: a hash of the encoder weights'
/// bytes, the tokenizer files and `max_length`). Vectors from two encoders are never comparable, so
/// a store refuses to be opened for an identity or dimension other than the one it was written by.
public struct FeatureStoreConfiguration: Sendable, Equatable {
    /// The encoder identity every vector in the store belongs to.
    public var encoderIdentity: String
    /// The length of every vector (the encoder's hidden size, 1,024 for BERT-large).
    public var dimension: Int
    /// The precision to store vectors in, or nil to accept whatever an existing store uses
    /// (a new store is then created with ``VectorPrecision/fp32``). A reader that only looks vectors
    /// up has no reason to care; a writer that names one gets ``FeatureStoreError/precisionMismatch(location:stored:requested:)``
    /// rather than a store silently in the other precision.
    public var precision: VectorPrecision?

    /// A configuration for `encoderIdentity` and `dimension`.
    public init(encoderIdentity: String, dimension: Int, precision: VectorPrecision? = nil) {
        self.encoderIdentity = encoderIdentity
        self.dimension = dimension
        self.precision = precision
    }

    /// The most elements a vector may have: far above any encoder's hidden size, and it keeps
    /// one vector's bytes (4 × 65,536 = 256 KiB) well inside both backends' value limits.
    public static let maximumDimension = 65_536

    /// Throws ``FeatureStoreError/invalidConfiguration(_:)`` for an empty identity or a dimension
    /// outside 1...``maximumDimension``.
    func validate() throws {
        if encoderIdentity.isEmpty {
            throw FeatureStoreError.invalidConfiguration("the encoder identity is empty")
        }
        if encoderIdentity.utf8.count > 256 {
            throw FeatureStoreError.invalidConfiguration(
                "the encoder identity is \(encoderIdentity.utf8.count) bytes long; at most 256 (it is meant to be a hash)")
        }
        if dimension < 1 || dimension > Self.maximumDimension {
            throw FeatureStoreError.invalidConfiguration(
                "dimension \(dimension) is outside 1...\(Self.maximumDimension)")
        }
    }
}

/// The identity, dimension and precision a store was actually created with.
public struct StoreDescription: Sendable, Equatable, CustomStringConvertible {
    /// The encoder identity the store's vectors belong to.
    public var encoderIdentity: String
    /// The length of every stored vector.
    public var dimension: Int
    /// The precision the vectors are stored in.
    public var precision: VectorPrecision
    /// The version of the store's table layout.
    public var schemaVersion: Int

    /// A store description.
    public init(encoderIdentity: String, dimension: Int, precision: VectorPrecision, schemaVersion: Int) {
        self.encoderIdentity = encoderIdentity
        self.dimension = dimension
        self.precision = precision
        self.schemaVersion = schemaVersion
    }

    public var description: String {
        "encoder identity \(encoderIdentity), dimension \(dimension), \(precision), schema \(schemaVersion)"
    }
}

extension FeatureStoreConfiguration {
    /// Throws unless a store described by `stored` may be used for this configuration:
    /// same identity and dimension, a schema this code reads, and the precision if one was named.
    func checkCompatible(with stored: StoreDescription, location: String, supportedSchema: Int) throws {
        if stored.schemaVersion > supportedSchema {
            throw FeatureStoreError.unsupportedSchema(location: location, found: stored.schemaVersion, supported: supportedSchema)
        }
        if stored.encoderIdentity != encoderIdentity || stored.dimension != dimension {
            throw FeatureStoreError.encoderMismatch(
                location: location, stored: stored.encoderIdentity, storedDimension: stored.dimension,
                requested: encoderIdentity, requestedDimension: dimension)
        }
        if let precision, precision != stored.precision {
            throw FeatureStoreError.precisionMismatch(location: location, stored: stored.precision, requested: precision)
        }
    }
}
