import ListConRankerStore

extension ServiceError {
    /// The JSON error for a feature store failure: an unreachable database is 503 Unavailable (a
    /// retry works once it is back), a refused entry 422, anything else 500, as it is a fault of
    /// the store or its configuration, not of the request.
    init(store error: any Error) {
        switch error {
        case let error as ServiceError:
            self = error
        case FeatureStoreError.unavailable:
            self.init(
                status: .serviceUnavailable, kind: .unavailable,
                message: "The feature store is unavailable: \(error); retry later")
        case FeatureStoreError.invalidEntry:
            self = .unprocessable("\(error)")
        default:
            self.init(status: .internalServerError, kind: .backend, message: "The feature store failed: \(error)")
        }
    }
}

/// Awaits a feature store call, turning its failures into ``ServiceError``s.
func withStoreErrors<T>(_ call: () async throws -> T) async throws -> T {
    do {
        return try await call()
    } catch is CancellationError {
        throw CancellationError()
    } catch {
        throw ServiceError(store: error)
    }
}
