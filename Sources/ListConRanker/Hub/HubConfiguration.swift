import Foundation

/// Where the hub is, who the user is, and where downloads go — read from the same
/// environment variables as Python's huggingface_hub, so both share one cache.
///
/// - `HF_ENDPOINT`: the hub's base URL (default `https://huggingface.co`).
/// - `HF_TOKEN`: an access token sent as `Authorization: Bearer …`; when unset, the token
///   file `huggingface-cli login` writes (`HF_TOKEN_PATH`, default `$HF_HOME/token`).
/// - `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) = `1`/`true`/`yes`/`on`: never touch the network.
/// - `HF_HUB_CACHE` (or the older `HUGGINGFACE_HUB_CACHE`), else `$HF_HOME/hub`, where
///   `HF_HOME` defaults to `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
public struct HubConfiguration: Sendable, Equatable {
    /// The hub's base URL, without a trailing slash.
    public var endpoint: String
    /// The access token, or nil to send none.
    public var token: String?
    /// When true, only the cache is used and no request is made.
    public var offline: Bool
    /// The hub cache root (the folder holding `models--owner--name`).
    public var cacheDirectory: URL
    /// Seconds without any byte from the server before a request fails.
    public var requestTimeout: TimeInterval
    /// How many times one file's transfer is attempted before giving up; each retry
    /// resumes from the bytes already on disk.
    public var attemptsPerFile: Int

    /// The public hub.
    public static let defaultEndpoint = "https://huggingface.co"

    /// Explicit settings (tests and embedders); the environment is not read.
    public init(endpoint: String = HubConfiguration.defaultEndpoint, token: String? = nil, offline: Bool = false,
                cacheDirectory: URL, requestTimeout: TimeInterval = 30, attemptsPerFile: Int = 3) {
        self.endpoint = HubConfiguration.trimmedEndpoint(endpoint)
        self.token = token
        self.offline = offline
        self.cacheDirectory = cacheDirectory
        self.requestTimeout = requestTimeout
        self.attemptsPerFile = max(1, attemptsPerFile)
    }

    /// Settings from environment variables (the process's by default), as huggingface_hub reads them.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        func value(_ name: String) -> String? {
            guard let raw = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty
            else { return nil }
            return raw
        }
        let home = value("HOME") ?? NSHomeDirectory()
        func expand(_ path: String) -> String {
            if path == "~" { return home }
            if path.hasPrefix("~/") { return home + path.dropFirst(1) }
            return path
        }
        let hfHome = expand(value("HF_HOME")
            ?? ((value("XDG_CACHE_HOME").map(expand) ?? home + "/.cache") + "/huggingface"))
        let cache = expand(value("HF_HUB_CACHE") ?? value("HUGGINGFACE_HUB_CACHE") ?? hfHome + "/hub")

        var token = value("HF_TOKEN")
        if token == nil {
            let tokenPath = expand(value("HF_TOKEN_PATH") ?? hfHome + "/token")
            token = (try? String(contentsOfFile: tokenPath, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if token?.isEmpty == true { token = nil }
        }
        let offlineFlag = value("HF_HUB_OFFLINE") ?? value("TRANSFORMERS_OFFLINE")
        self.init(endpoint: value("HF_ENDPOINT") ?? HubConfiguration.defaultEndpoint,
                  token: token,
                  offline: offlineFlag.map(HubConfiguration.isTrue) ?? false,
                  cacheDirectory: URL(fileURLWithPath: cache, isDirectory: true))
    }

    /// huggingface_hub's truth test for flag variables.
    static func isTrue(_ value: String) -> Bool {
        ["1", "ON", "YES", "TRUE"].contains(value.uppercased())
    }

    static func trimmedEndpoint(_ endpoint: String) -> String {
        var trimmed = endpoint.trimmingCharacters(in: .whitespacesAndNewlines)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        return trimmed
    }
}
