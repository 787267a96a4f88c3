import PostgresNIO

/// Sorts PostgresNIO's errors into "the database is out of reach" (``FeatureStoreError/unavailable(location:reason:)``,
/// worth a retry) and everything else (``FeatureStoreError/database(location:message:)``).
enum PostgresErrors {
    /// The store error for `error`, raised while talking to the database at `location`.
    static func storeError(_ error: any Error, location: String) -> FeatureStoreError {
        if let error = error as? FeatureStoreError { return error }
        let reason = describe(error)
        return isUnavailability(error) ? .unavailable(location: location, reason: reason) : .database(location: location, message: reason)
    }

    /// True when `error` means the connection or the server went away, rather than a query being wrong.
    static func isUnavailability(_ error: any Error) -> Bool {
        if let error = error as? PostgresTransactionError {
            let parts: [(any Error)?] = [error.beginError, error.closureError, error.commitError, error.rollbackError]
            return parts.contains { $0.map(isUnavailability) ?? false }
        }
        if let error = error as? PSQLError {
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown,
                 .sslUnsupported, .failedToAddSSLHandler, .poolClosed:
                return true
            case .server:
                let state = error.serverInfo?[.sqlState] ?? ""
                // 08: connection exception; 57: operator intervention (shutdown, starting up);
                // 53: insufficient resources (too many connections, disk full).
                return state.hasPrefix("08") || state.hasPrefix("57") || state.hasPrefix("53")
            default:
                return false
            }
        }
        // Socket errors that PostgresNIO did not wrap.
        return error is IOError || error is ChannelError || error is NIOConnectionError
    }

    /// A message that names what went wrong without leaking bound values (PSQLError's own description
    /// hides everything; its debug description may include query parameters).
    static func describe(_ error: any Error) -> String {
        if let error = error as? PostgresTransactionError {
            let parts: [(any Error)?] = [error.beginError, error.closureError, error.commitError, error.rollbackError]
            return parts.compactMap { $0.map(describe) }.joined(separator: "; ")
        }
        if let error = error as? PSQLError {
            if error.code == .server, let info = error.serverInfo {
                let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return "server: \(info[.message] ?? "error")\(state)"
            }
            if let underlying = error.underlying {
                return "\(error.code): \(underlying)"
            }
            return "\(error.code)"
        }
        return String(describing: error)
    }
}
