import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ListConRankerServer
import ListConRankerFakeEngine

/// The OpenAPI document against the wire: its examples are requests the routes accept, and the
/// service's real responses conform to its schemas (with no member it does not describe).
@Suite("OpenAPI document: examples and responses")
struct OpenAPIDocumentTests {
    let document: JSONValue
    let checker: JSONSchemaChecker

    init() throws {
        document = try JSONValue.parse(EmbeddedFiles.openAPIDocument)
        checker = JSONSchemaChecker(document: document)
    }

    /// The documented operation for a path template (`/v1/index/{id}`) and method.
    func operation(_ method: String, _ path: String) throws -> JSONValue {
        try #require(document["paths"]?[path]?[method.lowercased()], "\(method) \(path) is not documented")
    }

    /// Problems of a response against what the document says for its route and status: the
    /// status must be documented, the content type one of the documented ones, and a JSON body
    /// must conform to its schema.
    func problems(_ response: TestResponse, _ method: String, _ path: String) throws -> [String] {
        let status = String(response.status.code)
        guard let documented = try operation(method, path)["responses"]?[status] else {
            return ["\(method) \(path): status \(status) is not documented"]
        }
        guard let content = documented["content"]?.members else { return [] }
        let contentType = response.headers[.contentType].map { String($0.prefix { $0 != ";" }) } ?? ""
        guard let media = content[contentType] else {
            return ["\(method) \(path) \(status): Content-Type \(contentType) is not documented (\(content.keys.sorted()))"]
        }
        guard contentType == "application/json", let schema = media["schema"] else { return [] }
        let body = try JSONValue.parse(response.body.readableBytesView)
        return checker.problems(body, schema).map { "\(method) \(path) \(status): \($0)" }
    }

    // MARK: Examples

    /// Every request body carries examples, and each decodes into the route's request type and
    /// passes the route's own decoding and validation (the code a real request runs).
    @Test func requestExamplesDecodeIntoTheRequestTypes() throws {
        let engine = TokenOverlapEngine()
        let configuration = ServiceConfiguration()
        // Each documented request body, by route, with what decodes it.
        let decoders: [String: (Data) throws -> Void] = [
            "POST /rerank": { body in
                let request = try JSONBody.decode(TEIRerankRequest.self, from: body)
                let plan = try RerankRequestDecoding.tei(body: body, configuration: configuration, engine: engine)
                #expect(plan.request.texts == request.texts && !request.texts.isEmpty)
            },
            "POST /v1/rerank": { body in
                let request = try JSONBody.decode(CohereRerankRequest.self, from: body)
                let plan = try RerankRequestDecoding.cohere(
                    body: body, configuration: configuration, engine: engine, hasFeatureStore: true)
                #expect(plan.request.query == request.query)
                #expect((request.documents?.count ?? 0) + (request.documentIDs?.count ?? 0) > 0)
            },
            "POST /v1/index": { body in
                let request = try JSONBody.decode(IndexRequest.self, from: body)
                #expect(!request.documents.isEmpty)
            },
        ]

        var routesWithBodies = Set<String>()
        var examplesSeen = 0
        for (path, operations) in try #require(document["paths"]?.members) {
            for (method, operation) in try #require(operations.members) {
                guard let media = operation["requestBody"]?["content"]?["application/json"] else { continue }
                let route = "\(method.uppercased()) \(path)"
                routesWithBodies.insert(route)
                let examples = try #require(media["examples"]?.members, "\(route) has no examples")
                #expect(!examples.isEmpty, "\(route) has no examples")
                let schema = try #require(media["schema"])
                for (name, example) in examples {
                    let value = try #require(example["value"], "\(route) example \(name) has no value")
                    #expect(checker.problems(value, schema) == [], "\(route) example \(name) against its schema")
                    let decode = try #require(decoders[route], "no request type known for \(route)")
                    do {
                        try decode(try value.json)
                    } catch {
                        Issue.record("\(route) example \(name) is refused: \(error)")
                    }
                    examplesSeen += 1
                }
            }
        }
        #expect(routesWithBodies == Set(decoders.keys))
        #expect(examplesSeen >= 5)
    }

    // MARK: Responses

    /// Successes and refusals of the routes that need no store, over the fake engine.
    @Test func responsesWithoutAStoreConformToTheDocument() async throws {
        let app = try RerankService.makeApplication(
            engine: TokenOverlapEngine(), configuration: .init(maxClientBatchSize: 30), logger: quietLogger)
        try await app.test(.router) { client in
            let texts = ["多吃蔬菜", "少吃盐", "今天天气很好"]
            let exchanges: [(TestResponse, String, String, HTTPResponse.Status)] = [
                (try await client.post("/rerank", ["query": "高血压", "texts": texts]), "POST", "/rerank", .ok),
                (try await client.post("/rerank", ["query": "高血压", "texts": texts, "return_text": true, "raw_scores": true]),
                 "POST", "/rerank", .ok),
                (try await client.post("/rerank", ["query": "", "texts": texts]), "POST", "/rerank", .unprocessableContent),
                (try await client.post("/rerank", ["query": "q", "texts": Array(repeating: "a", count: 31)]),
                 "POST", "/rerank", .contentTooLarge),
                (try await client.post("/v1/rerank", ["query": "高血压", "documents": [texts[0], ["text": texts[1]]],
                                                      "top_n": 1, "return_documents": true]),
                 "POST", "/v1/rerank", .ok),
                (try await client.post("/v1/rerank", ["query": "高血压", "documents": samplePassages(25)]),
                 "POST", "/v1/rerank", .ok),
                (try await client.post("/v1/rerank", ["query": "高血压", "document_ids": ["a"]]),
                 "POST", "/v1/rerank", .unprocessableContent),
                (try await client.get("/health"), "GET", "/health", .ok),
                (try await client.get("/info"), "GET", "/info", .ok),
                (try await client.get("/openapi.json"), "GET", "/openapi.json", .ok),
                (try await client.get("/metrics"), "GET", "/metrics", .ok),
                (try await client.get("/"), "GET", "/", .ok),
                (try await client.get("/page/page.js"), "GET", "/page/{file}", .ok),
                (try await client.get("/page/secrets.txt"), "GET", "/page/{file}", .notFound),
            ]
            for (response, method, path, status) in exchanges {
                #expect(response.status == status, "\(method) \(path)")
                #expect(try problems(response, method, path) == [])
            }
        }
    }

    /// While the model loads: /health's 503 and /info's nulls.
    @Test func responsesWhileLoadingConformToTheDocument() async throws {
        let gate = Gate()
        let app = try applicationLoading(behind: gate)
        try await app.test(.router) { client in
            let health = try await client.get("/health")
            #expect(health.status == .serviceUnavailable)
            #expect(try problems(health, "GET", "/health") == [])
            let info = try await client.get("/info")
            #expect(try JSONValue.parse(info.body.readableBytesView)["model_id"] == .null)
            #expect(try problems(info, "GET", "/info") == [])
            let rerank = try await client.post("/v1/rerank", ["query": "q", "documents": ["a"]])
            #expect(rerank.status == .serviceUnavailable)
            #expect(try problems(rerank, "POST", "/v1/rerank") == [])
            await gate.open()
        }
    }

    /// The store's routes (index, ids, delete, refusals) on the tiny model and an SQLite store.
    @Test func responsesWithAStoreConformToTheDocument() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let app = try RerankService.makeApplication(
            engine: try TinyModel.engine(),
            configuration: .init(featureStore: .sqlite(path: directory.path("features.sqlite")), apiKey: testAPIKey),
            logger: quietLogger)
        try await app.test(.router) { client in
            let documents = [["id": "a", "text": "多吃蔬菜"], ["id": "b", "text": "少吃盐"], ["id": "a", "text": "多吃水果"]]
            let exchanges: [(TestResponse, String, String, HTTPResponse.Status)] = [
                (try await client.post("/v1/index", ["documents": documents], key: testAPIKey), "POST", "/v1/index", .ok),
                (try await client.post("/v1/index", ["documents": documents], key: nil), "POST", "/v1/index", .unauthorized),
                (try await client.post("/v1/index", ["documents": [["id": "", "text": "x"]]], key: testAPIKey),
                 "POST", "/v1/index", .unprocessableContent),
                (try await client.post("/v1/rerank", ["query": "高血压", "document_ids": ["b", "a"]]), "POST", "/v1/rerank", .ok),
                (try await client.post("/v1/rerank", ["query": "高血压", "document_ids": ["a", "nope"]]),
                 "POST", "/v1/rerank", .unprocessableContent),
                (try await client.delete("/v1/index/a", key: testAPIKey), "DELETE", "/v1/index/{id}", .ok),
                (try await client.delete("/v1/index/a", key: nil), "DELETE", "/v1/index/{id}", .unauthorized),
                (try await client.get("/"), "GET", "/", .ok),
            ]
            for (response, method, path, status) in exchanges {
                #expect(response.status == status, "\(method) \(path)")
                #expect(try problems(response, method, path) == [])
            }
        }
    }
}

/// The checker itself: each supported keyword catches what it should, so that a conforming
/// response above means something.
@Suite("JSON schema checker")
struct JSONSchemaCheckerTests {
    let document: JSONValue

    init() throws {
        document = try JSONValue.parse(Data(#"""
        {"components": {"schemas": {
          "Rank": {"type": "object", "required": ["index", "score"],
                   "properties": {"index": {"type": "integer", "minimum": 0}, "score": {"type": "number"},
                                  "text": {"type": "string", "minLength": 1}}},
          "List": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Rank"}},
          "Document": {"oneOf": [{"type": "string"}, {"type": "object", "required": ["text"],
                                                      "properties": {"text": {"type": "string"}}}]},
          "Dtype": {"type": ["string", "null"], "enum": ["fp32", "bf16", null]},
          "Ok": {"type": "object", "properties": {"status": {"type": "string", "const": "ok"}}},
          "Strange": {"type": "string", "pattern": "^a"}
        }}}
        """#.utf8))
    }

    func problems(_ json: String, _ name: String, strict: Bool = true) throws -> [String] {
        var checker = JSONSchemaChecker(document: document)
        checker.rejectsUndescribedMembers = strict
        return checker.problems(try JSONValue.parse(Data(json.utf8)), .object(["$ref": .string("#/components/schemas/\(name)")]))
    }

    @Test func conformingValuesPass() throws {
        #expect(try problems(#"[{"index": 0, "score": 0.5}, {"index": 2, "score": -1, "text": "x"}]"#, "List") == [])
        #expect(try problems(#""plain""#, "Document") == [])
        #expect(try problems(#"{"text": "t"}"#, "Document") == [])
        #expect(try problems("null", "Dtype") == [])
        #expect(try problems(#""bf16""#, "Dtype") == [])
        #expect(try problems(#"{"status": "ok"}"#, "Ok") == [])
        #expect(try problems(#"{"index": 1.0, "score": 1}"#, "Rank") == [])
    }

    @Test func eachKeywordCatchesItsViolation() throws {
        #expect(try problems(#"{"index": 0}"#, "Rank") == ["$: the required member score is missing"])
        #expect(try problems(#"{"index": 1.5, "score": 0}"#, "Rank") == [#"$.index: 1.5 is not of type integer"#])
        #expect(try problems(#"{"index": true, "score": 0}"#, "Rank") == [#"$.index: true is not of type integer"#])
        #expect(try problems(#"{"index": -1, "score": 0}"#, "Rank") == ["$.index: -1.0 is below the minimum 0.0"])
        #expect(try problems(#"{"index": 0, "score": "high"}"#, "Rank") == [#"$.score: "high" is not of type number"#])
        #expect(try problems(#"{"index": 0, "score": 0, "text": ""}"#, "Rank") == ["$.text: 0 characters, fewer than 1"])
        #expect(try problems("[]", "List") == ["$: 0 items, fewer than 1"])
        #expect(try problems(#"[{"index": 0, "score": 0}, {"index": 0}]"#, "List") == ["$[1]: the required member score is missing"])
        #expect(try problems("3", "Document") == ["$: 3 matches 0 of oneOf's 2 schemas, not exactly one"])
        #expect(try problems(#""fp16""#, "Dtype") == [#"$: "fp16" is not one of ["fp32","bf16",null]"#])
        #expect(try problems(#"{"status": "down"}"#, "Ok") == [#"$.status: "down" is not "ok""#])
    }

    @Test func undescribedMembersAreReportedUnlessAllowed() throws {
        #expect(try problems(#"{"index": 0, "score": 0, "rank": 1}"#, "Rank") == ["$.rank: a member the schema does not describe"])
        #expect(try problems(#"{"index": 0, "score": 0, "rank": 1}"#, "Rank", strict: false) == [])
    }

    @Test func unknownKeywordsAndReferencesAreReported() throws {
        #expect(try problems(#""abc""#, "Strange") == ["$: the checker does not support the keyword pattern"])
        #expect(try problems("1", "Missing") == ["$: unresolvable $ref \"#/components/schemas/Missing\""])
    }
}
