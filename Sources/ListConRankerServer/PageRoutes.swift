import Foundation
import Hummingbird

/// `GET /`: a page to try the service in a browser (a query, passages or stored ids, the ranked
/// result, and the OpenAPI document rendered as a reference), and `GET /page/{file}`: its style
/// sheet, script and icon, all compiled into the binary (``EmbeddedFiles``).
///
/// The page talks to this service's own routes only (`/info`, `/openapi.json`, `/v1/rerank`),
/// and its Content-Security-Policy allows nothing else: it needs no network at run time.
struct PageRoutes {
    /// Whether `/v1/rerank` takes `document_ids` here; the page then offers stored ids as well as
    /// passages.
    let hasFeatureStore: Bool

    /// Only this origin, for every kind of content; no inline script or style.
    static let contentSecurityPolicy =
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    func register(on router: Router<some RequestContext>) {
        let page = ByteBuffer(bytes: Self.page(hasFeatureStore: hasFeatureStore))
        router.get("/") { _, _ in
            Self.response(page, contentType: "text/html; charset=utf-8")
        }
        router.get("page/:file") { _, context in
            let name = context.parameters.get("file") ?? ""
            guard let file = EmbeddedFiles.pageFiles[name] else {
                throw ServiceError(
                    status: .notFound, kind: .validation,
                    message: "no page file \"\(name)\"; there are \(EmbeddedFiles.pageFiles.keys.sorted().joined(separator: ", "))")
            }
            return Self.response(ByteBuffer(bytes: file.bytes), contentType: file.contentType)
        }
    }

    /// The page's HTML, telling its script whether a feature store is configured (the `body`
    /// element's `data-feature-store` attribute, "false" in the file).
    static func page(hasFeatureStore: Bool) -> [UInt8] {
        let html = String(decoding: EmbeddedFiles.pageHTML, as: UTF8.self)
        guard hasFeatureStore else { return EmbeddedFiles.pageHTML }
        return Array(html.replacingOccurrences(
            of: #"data-feature-store="false""#, with: #"data-feature-store="true""#).utf8)
    }

    private static func response(_ body: ByteBuffer, contentType: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: contentType,
                .contentSecurityPolicy: contentSecurityPolicy,
                .xContentTypeOptions: "nosniff",
                // The files change with the binary: a browser asks again rather than keep an old page.
                .cacheControl: "no-cache",
            ],
            body: .init(byteBuffer: body))
    }
}
