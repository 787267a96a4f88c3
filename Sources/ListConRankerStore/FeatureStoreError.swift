/// Everything a feature store refuses or fails at, each case naming what is wrong.
///
/// ``unavailable(location:reason:)`` is the one a caller may retry: the database could not be
/// reached (PostgreSQL down or restarting), and the store reconnects on its next call. A server
/// answers it with 503; every other case is a mistake that retrying does not fix.
public enum FeatureStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The store was written for another encoder (identity or dimension); its vectors are not this encoder's.
    case encoderMismatch(location: String, stored: String, storedDimension: Int, requested: String, requestedDimension: Int)
    /// The store keeps another precision than the one the configuration asked for.
    case precisionMismatch(location: String, stored: VectorPrecision, requested: VectorPrecision)
    /// Ids asked for by ``FeatureStore/orderedVectors(for:)`` that the store does not hold, in request order.
    case missingIDs([String])
    /// An entry handed to ``FeatureStore/upsert(_:)`` that cannot be stored.
    case invalidEntry(id: String, reason: String)
    /// A configuration that no store could be bound to.
    case invalidConfiguration(String)
    /// A `--store` argument that names no backend.
    case invalidLocation(String, reason: String)
    /// The database could not be reached; retry later (the store reconnects on its next call).
    case unavailable(location: String, reason: String)
    /// The file or database holds something other than a feature store this code can read.
    case notAFeatureStore(location: String, reason: String)
    /// A stored entry that cannot be read back (wrong vector byte count): the store was damaged or written by other code.
    case corruptEntry(location: String, id: String, reason: String)
    /// The store was written by a newer version of this code.
    case unsupportedSchema(location: String, found: Int, supported: Int)
    /// The store has been closed by ``FeatureStore/close()``.
    case closed(location: String)
    /// Any other error the database reported.
    case database(location: String, message: String)

    public var description: String {
        switch self {
        case let .encoderMismatch(location, stored, storedDimension, requested, requestedDimension):
            return "feature store \(location) holds vectors of encoder identity \(stored) (dimension \(storedDimension)), "
                + "not of the requested encoder identity \(requested) (dimension \(requestedDimension)); "
                + "vectors of two encoders are never mixed: use another store or re-index"
        case let .precisionMismatch(location, stored, requested):
            return "feature store \(location) stores \(stored) vectors, but \(requested) was requested"
        case let .missingIDs(ids):
            let shown = ids.prefix(10).map { "\"\($0)\"" }.joined(separator: ", ")
            let more = ids.count > 10 ? " and \(ids.count - 10) more" : ""
            return "the feature store holds no vector for \(ids.count) id(s): \(shown)\(more)"
        case let .invalidEntry(id, reason):
            return "cannot store entry \"\(id)\": \(reason)"
        case let .invalidConfiguration(reason):
            return "invalid feature store configuration: \(reason)"
        case let .invalidLocation(location, reason):
            return "invalid feature store location \"\(location)\": \(reason)"
        case let .unavailable(location, reason):
            return "feature store \(location) is unavailable (\(reason)); the next call reconnects"
        case let .notAFeatureStore(location, reason):
            return "\(location) is not a feature store: \(reason)"
        case let .corruptEntry(location, id, reason):
            return "feature store \(location): entry \"\(id)\" is corrupt: \(reason)"
        case let .unsupportedSchema(location, found, supported):
            return "feature store \(location) has schema version \(found); this build reads version \(supported) and older"
        case let .closed(location):
            return "feature store \(location) has been closed"
        case let .database(location, message):
            return "feature store \(location): \(message)"
        }
    }
}
