import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ListConRankerServer
import ListConRankerFakeEngine

/// `GET /` and `GET /page/{file}`, as HTTP (tools/page/browser_test.py drives the page itself in
/// Chromium).
@Suite("GET /, /page/{file}")
struct PageRouteTests {
    func app(_ configuration: ServiceConfiguration = .init()) throws -> some ApplicationProtocol {
        try RerankService.makeApplication(engine: TokenOverlapEngine(), configuration: configuration, logger: quietLogger)
    }

    @Test func thePageAndEveryFileItLoadsAreServed() async throws {
        try await app().test(.router) { client in
            let page = try await client.get("/")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.headers[.contentSecurityPolicy] == PageRoutes.contentSecurityPolicy)
            let html = String(buffer: page.body)
            #expect(html.contains(#"data-feature-store="false""#))

            // Every /page/ file the HTML names exists, with a fitting type.
            let referenced = html.matches(of: /(?:href|src)="\/page\/([^"]+)"/).map { String($0.output.1) }
            #expect(Set(referenced) == Set(EmbeddedFiles.pageFiles.keys))
            for name in referenced {
                let file = try await client.get("/page/\(name)")
                #expect(file.status == .ok, "\(name)")
                #expect(file.headers[.contentType] == EmbeddedFiles.pageFiles[name]?.contentType)
                #expect(file.body.readableBytes > 100, "\(name) is not empty")
            }
            let missing = try await client.get("/page/index.html")
            #expect(missing.status == .notFound)
            #expect(try errorBody(missing)?.error.contains("page.css, page.js") == true)
        }
    }

    @Test func thePageKnowsWhetherAStoreIsConfigured() async throws {
        let html = try await app(.init(featureStore: .sqlite(path: "unused.sqlite"))).test(.router) { client in
            String(buffer: try await client.get("/").body)
        }
        #expect(html.contains(#"data-feature-store="true""#))
        #expect(!html.contains(#"data-feature-store="false""#))
    }

    /// No network at run time: nothing in the page's files names another origin (the icon's SVG
    /// namespace is a name, never fetched).
    @Test func thePageNamesNoOtherOrigin() {
        for (name, bytes) in [("index.html", EmbeddedFiles.pageHTML)] + EmbeddedFiles.pageFiles.map({ ($0.key, $0.value.bytes) }) {
            let text = String(decoding: bytes, as: UTF8.self)
                .replacingOccurrences(of: #"xmlns="http://www.w3.org/2000/svg""#, with: "")
            #expect(!text.contains("http://") && !text.contains("https://") && !text.contains("\"//"), "\(name)")
        }
    }
}
