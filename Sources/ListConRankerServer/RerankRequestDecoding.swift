import Foundation

/// From the body bytes of a rerank route to the work for the engine, or the `ServiceError` (413
/// or 422) that says what is wrong with the request.
///
/// Synchronous and apart from Hummingbird's request: the routes call it once the engine is
/// loaded and the body collected, and the fuzz harness (tools/fuzz, `http-rerank`) calls it on
/// raw bytes, so that what is fuzzed is exactly what the routes run.
enum RerankRequestDecoding {
    /// A `POST /rerank` body, decoded and validated.
    struct TEIPlan {
        var request: TEIRerankRequest
        var job: RequestValidation.ScoringJob
    }

    /// A `POST /v1/rerank` body, decoded and validated up to what needs the feature store.
    enum CoherePlan {
        /// Texts to score: the documents' texts, in order.
        case documents(CohereRerankRequest, texts: [String], job: RequestValidation.ScoringJob)
        /// Stored passages to look up by id; `job.passageVectors` is still nil.
        case documentIDs(CohereRerankRequest, ids: [String], job: RequestValidation.ScoringJob)

        /// The decoded body, either way.
        var request: CohereRerankRequest {
            switch self {
            case let .documents(request, _, _), let .documentIDs(request, _, _): request
            }
        }

        /// The work for the engine, either way.
        var job: RequestValidation.ScoringJob {
            switch self {
            case let .documents(_, _, job), let .documentIDs(_, _, job): job
            }
        }
    }

    /// A body decoded and checked for everything that tokenizes nothing: JSON, fields, the list's
    /// shape and counts. ``tokenize()`` does the rest: every text through the tokenizer, the
    /// truncation rule and max-batch-tokens.
    ///
    /// Two halves so that a route can take its place in the model's queue between them: while
    /// the model is saturated, a 429 then costs the service no tokenization.
    struct Untokenized<Plan>: Sendable {
        fileprivate let countTokens: @Sendable () throws(ServiceError) -> Plan

        /// Tokenizes the texts and applies the limits that need token counts.
        func tokenize() throws(ServiceError) -> Plan { try countTokens() }
    }

    /// `POST /rerank` (TEI), both halves.
    static func tei(
        body: Data, configuration: ServiceConfiguration, engine: any RerankEngine
    ) throws -> TEIPlan {
        try untokenizedTEI(body: body, configuration: configuration, engine: engine).tokenize()
    }

    /// `POST /v1/rerank` (Cohere / Jina), both halves.
    static func cohere(
        body: Data, configuration: ServiceConfiguration, engine: any RerankEngine, hasFeatureStore: Bool
    ) throws -> CoherePlan {
        try untokenizedCohere(
            body: body, configuration: configuration, engine: engine, hasFeatureStore: hasFeatureStore
        ).tokenize()
    }

    /// `POST /rerank` (TEI): the body, `truncate` and `truncation_direction`, the list's shape;
    /// then, in ``Untokenized/tokenize()``, the token limits.
    static func untokenizedTEI(
        body: Data, configuration: ServiceConfiguration, engine: any RerankEngine
    ) throws -> Untokenized<TEIPlan> {
        let request = try JSONBody.decode(TEIRerankRequest.self, from: body)
        let truncation: RequestValidation.Truncation
        switch (request.truncate ?? false, request.truncationDirection?.lowercased()) {
        case (_, let direction?) where direction != "left" && direction != "right":
            throw ServiceError.unprocessable(
                "`truncation_direction` must be \"Right\" or \"Left\", got \"\(request.truncationDirection ?? "")\"")
        case (false, _): truncation = .refuse
        case (true, "left"): truncation = .left
        case (true, _): truncation = .right
        }
        let validation = RequestValidation(configuration: configuration, engine: engine)
        let raw = request.rawScores ?? false
        let iterative = try validation.checkListShape(
            query: request.query, count: request.texts.count, field: "texts", raw: raw, allowIterative: true)
        return Untokenized { () throws(ServiceError) in
            let job = try validation.countTokens(
                query: request.query, texts: request.texts, textsField: "texts",
                truncation: truncation, raw: raw, iterative: iterative)
            return TEIPlan(request: request, job: job)
        }
    }

    /// `POST /v1/rerank` (Cohere / Jina): the body, `top_n`, `documents` or `document_ids`, the
    /// list's shape; then, in ``Untokenized/tokenize()``, the token limits. `hasFeatureStore`: the
    /// service has a store, so `document_ids` may be served.
    static func untokenizedCohere(
        body: Data, configuration: ServiceConfiguration, engine: any RerankEngine, hasFeatureStore: Bool
    ) throws -> Untokenized<CoherePlan> {
        let request = try JSONBody.decode(CohereRerankRequest.self, from: body)
        if let topN = request.topN, topN < 1 {
            throw ServiceError.unprocessable("`top_n` must be at least 1, got \(topN)")
        }
        let validation = RequestValidation(configuration: configuration, engine: engine)
        switch (request.documents, request.documentIDs) {
        case let (documents?, nil):
            let texts = documents.map(\.text)
            // Cohere and Jina truncate long documents rather than refuse them, and rank long lists
            // the library's default way: iteratively.
            let iterative = try validation.checkListShape(
                query: request.query, count: texts.count, field: "documents", raw: false, allowIterative: true)
            return Untokenized { () throws(ServiceError) in
                let job = try validation.countTokens(
                    query: request.query, texts: texts, textsField: "documents",
                    truncation: .right, raw: false, iterative: iterative)
                return .documents(request, texts: texts, job: job)
            }
        case let (nil, ids?):
            guard hasFeatureStore else {
                throw ServiceError.unprocessable(
                    "`document_ids` needs a feature store, and this service has none (start it with --store)")
            }
            if request.returnDocuments == true {
                // The store keeps vectors, not texts: refusing is clearer than results without documents.
                throw ServiceError.unprocessable(
                    "`return_documents` is not available with `document_ids`: the feature store keeps "
                        + "passages' vectors, not their texts; each result carries its `id` instead")
            }
            let iterative = try validation.checkShape(query: request.query, documentIDs: ids)
            return Untokenized { () throws(ServiceError) in
                let job = try validation.countQueryTokens(query: request.query, iterative: iterative)
                return .documentIDs(request, ids: ids, job: job)
            }
        case (nil, nil):
            throw ServiceError.unprocessable(
                hasFeatureStore ? "missing field `documents` or `document_ids`" : "missing field `documents`")
        case (_?, _?):
            throw ServiceError.unprocessable("send either `documents` or `document_ids`, not both")
        }
    }
}
