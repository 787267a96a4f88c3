import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Builds the hub's requests and turns its error answers into ``HubError``s.
struct HubRequests: Sendable {
    let configuration: HubConfiguration
    let repository: HubRepositoryID

    /// Sent with every request so the hub can tell this client apart in its statistics.
    static let userAgent = "listconranker-swift/0.1; hf_hub-compatible"

    var client: HubHTTPClient { HubHTTPClient(timeout: configuration.requestTimeout) }

    /// `{endpoint}/api/models/{owner}/{name}/revision/{revision}` — the commit and the file list.
    func revisionInfoURL(revision: String) throws -> URL {
        try url("\(configuration.endpoint)/api/models/\(repository)/revision/\(HubRequests.quote(revision, keepSlashes: false))")
    }

    /// `{endpoint}/{owner}/{name}/resolve/{commit}/{file}` — the file itself (or a redirect to the CDN).
    func resolveURL(commit: String, file: String) throws -> URL {
        try url("\(configuration.endpoint)/\(repository)/resolve/\(HubRequests.quote(commit, keepSlashes: false))/\(HubRequests.quote(file, keepSlashes: true))")
    }

    /// A request with the client's headers; the token goes only to the hub's own origin.
    func request(_ url: URL, method: String = "GET", rangeStart: Int64? = nil) -> URLRequest {
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue(HubRequests.userAgent, forHTTPHeaderField: "User-Agent")
        // Sizes and hashes refer to the raw bytes: a compressed transfer would defeat both checks and resuming.
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        if let token = configuration.token, let endpointURL = URL(string: configuration.endpoint),
           HubHTTPClient.sameOrigin(endpointURL, url) {
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        if let rangeStart, rangeStart > 0 {
            request.setValue("bytes=\(rangeStart)-", forHTTPHeaderField: "Range")
        }
        return request
    }

    /// Wraps a transport failure as a network error naming the endpoint.
    func networkError(_ error: HubTransportError) -> HubError {
        .networkFailure(endpoint: configuration.endpoint, url: error.url, detail: error.detail)
    }

    /// The error for a hub answer that is not a success; `revision` names what was asked for.
    func statusError(_ response: HubHTTPResponse, body: Data, revision: String) -> HubError {
        let code = response.header("X-Error-Code")
        switch response.status {
        case 401, 403:
            return .authenticationRequired(repository: repository.description, status: response.status,
                                           tokenWasSent: configuration.token != nil)
        case 404 where code == "RevisionNotFound":
            return .revisionNotFound(repository: repository.description, revision: revision)
        case 404 where code == "RepoNotFound" || code == nil && response.url.path.contains("/api/models/"):
            return .repositoryNotFound(repository: repository.description, endpoint: configuration.endpoint)
        default:
            let text = String(decoding: body.prefix(400), as: UTF8.self)
            return .unexpectedStatus(url: response.url.absoluteString, status: response.status, body: text)
        }
    }

    private func url(_ string: String) throws -> URL {
        guard let url = URL(string: string), url.scheme == "http" || url.scheme == "https" else {
            throw HubError.malformedResponse(url: string, detail: "not an http(s) URL; check HF_ENDPOINT (\(configuration.endpoint))")
        }
        return url
    }

    /// Python's `urllib.parse.quote`: percent-encodes all but unreserved characters (and `/` when kept).
    static func quote(_ string: String, keepSlashes: Bool) -> String {
        var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        if keepSlashes { allowed.insert("/") }
        return string.addingPercentEncoding(withAllowedCharacters: allowed) ?? string
    }
}
