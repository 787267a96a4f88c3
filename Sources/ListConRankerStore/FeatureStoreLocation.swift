import Foundation
import Logging

/// Where a feature store lives, as given on the command line (`--store`).
///
/// - `features.sqlite`, `/var/lib/lcr/features.sqlite` or `sqlite:features.sqlite`: an SQLite file.
/// - `postgres://user:password@host:5432/database` or `postgresql://…`: a PostgreSQL database.
public enum FeatureStoreLocation: Sendable, Equatable, CustomStringConvertible {
    /// An SQLite file at this path.
    case sqlite(path: String)
    /// A PostgreSQL database at this URL (password included; print ``description`` instead).
    case postgres(url: String)

    /// Parses a `--store` argument.
    ///
    /// - Throws: ``FeatureStoreError/invalidLocation(_:reason:)`` for an empty argument, a `sqlite:`
    ///   prefix without a path, or another URL scheme (so a typo such as `postgress://` is not taken for a file name).
    public init(parsing argument: String) throws {
        let trimmed = argument.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty {
            throw FeatureStoreError.invalidLocation(argument, reason: "it is empty")
        }
        let lowered = trimmed.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            _ = try PostgresSettings(url: trimmed)
            self = .postgres(url: trimmed)
            return
        }
        if lowered.hasPrefix("sqlite:") {
            var path = String(trimmed.dropFirst("sqlite:".count))
            // sqlite:///abs/path and sqlite://rel/path, as in other tools' URLs.
            if path.hasPrefix("//") { path.removeFirst(2) }
            if path.isEmpty {
                throw FeatureStoreError.invalidLocation(argument, reason: "sqlite: names no file")
            }
            self = .sqlite(path: path)
            return
        }
        if let schemeEnd = trimmed.range(of: "://") {
            let scheme = trimmed[..<schemeEnd.lowerBound]
            throw FeatureStoreError.invalidLocation(
                argument, reason: "unknown scheme \"\(scheme)\"; use a file path, sqlite:PATH, postgres:// or postgresql://")
        }
        self = .sqlite(path: trimmed)
    }

    /// The location without any password, for logs and messages.
    public var description: String {
        switch self {
        case let .sqlite(path):
            return path
        case let .postgres(url):
            return (try? PostgresSettings(url: url).redacted) ?? PostgresSettings.withoutPassword(url)
        }
    }

    /// Opens (creating if needed) the store at this location for `configuration`.
    ///
    /// - Parameter maximumConnections: PostgreSQL only: connections the store opens at most.
    public func open(
        configuration: FeatureStoreConfiguration,
        maximumConnections: Int = 4,
        logger: Logger = Logger(label: "listconranker.store")
    ) async throws -> any FeatureStore {
        switch self {
        case let .sqlite(path):
            return try SQLiteFeatureStore(path: path, configuration: configuration)
        case let .postgres(url):
            return try await PostgresFeatureStore.open(
                url: url, configuration: configuration, maximumConnections: maximumConnections, logger: logger)
        }
    }
}
