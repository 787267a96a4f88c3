// The files the service serves as they are: the OpenAPI document and the page's HTML, CSS,
// script and icon. SwiftPM compiles them into the binary (`.embedInCode` in Package.swift), so
// that a copied or statically linked `listconranker` serves them with nothing beside it: a
// resource bundle (`Bundle.module`) would have to travel with the binary, and its absence would
// stop the process at the first request.

/// The served files' bytes, by what they are.
enum EmbeddedFiles {
    /// `openapi.json`: the one copy of the API's description, served at `GET /openapi.json`.
    static var openAPIDocument: [UInt8] { PackageResources.openapi_json }

    /// `Page/index.html`, served at `GET /`.
    static var pageHTML: [UInt8] { PackageResources.index_html }

    /// A file the page loads from `GET /page/{file}`.
    struct PageFile: Sendable {
        /// The `Content-Type` it is served with.
        var contentType: String
        /// Its bytes.
        var bytes: [UInt8]
    }

    /// The page's style sheet, script and icon by file name (what `/page/{file}` accepts).
    static let pageFiles: [String: PageFile] = [
        "page.css": PageFile(contentType: "text/css; charset=utf-8", bytes: PackageResources.page_css),
        "page.js": PageFile(contentType: "text/javascript; charset=utf-8", bytes: PackageResources.page_js),
        "icon.svg": PageFile(contentType: "image/svg+xml", bytes: PackageResources.icon_svg),
    ]
}
