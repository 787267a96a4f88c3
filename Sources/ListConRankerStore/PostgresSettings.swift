import Foundation
import PostgresNIO

/// The connection settings in a `postgres://` or `postgresql://` URL.
///
/// `postgres://user:password@host:port/database?sslmode=…`; user and password are percent-decoded;
/// the port defaults to 5432. `sslmode` means what it means to libpq: `disable`; `prefer` (the
/// default) and `require` encrypt without checking the certificate (Debian's clusters start with a
/// self-signed one); `verify-ca` and `verify-full` also check the certificate against the system's roots.
struct PostgresSettings: Sendable {
    var host: String
    var port: Int
    var username: String
    var password: String?
    var database: String?
    var sslMode: SSLMode

    enum SSLMode: String, Sendable {
        case disable, prefer, require, verify
    }

    /// The URL without its password, safe to print in messages and logs.
    var redacted: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(username)@\(hostPart):\(port)/\(database ?? "")"
    }

    init(url: String) throws {
        guard let components = URLComponents(string: url),
              let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql"
        else {
            throw FeatureStoreError.invalidLocation(url, reason: "expected postgres://user:password@host:port/database")
        }
        guard let host = components.host, !host.isEmpty else {
            throw FeatureStoreError.invalidLocation(Self.withoutPassword(url), reason: "the URL names no host")
        }
        guard let user = components.user, !user.isEmpty else {
            throw FeatureStoreError.invalidLocation(Self.withoutPassword(url), reason: "the URL names no user")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user
        self.password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? nil : path
        var sslMode = SSLMode.prefer
        for item in components.queryItems ?? [] where item.name == "sslmode" {
            switch item.value {
            case "disable": sslMode = .disable
            case "allow", "prefer": sslMode = .prefer
            case "require": sslMode = .require
            case "verify-ca", "verify-full": sslMode = .verify
            default:
                throw FeatureStoreError.invalidLocation(
                    Self.withoutPassword(url),
                    reason: "sslmode must be disable, prefer, require, verify-ca or verify-full, not \(item.value ?? "empty")")
            }
        }
        self.sslMode = sslMode
    }

    /// The PostgresNIO configuration for these settings.
    func connectionConfiguration(connectTimeout: TimeAmount) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        var unverified = TLSConfiguration.makeClientConfiguration()
        unverified.certificateVerification = .none
        switch sslMode {
        case .disable:
            tls = .disable
        case .prefer:
            tls = try .prefer(NIOSSLContext(configuration: unverified))
        case .require:
            tls = try .require(NIOSSLContext(configuration: unverified))
        case .verify:
            tls = try .require(NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = connectTimeout
        return configuration
    }

    /// `url` with any password replaced, for error messages about a URL that did not parse.
    static func withoutPassword(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }
}
