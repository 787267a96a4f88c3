/// Request and response bodies of the two rerank routes, field for field as TEI and Cohere/Jina name them.

/// `POST /rerank` request, Text Embeddings Inference's shape.
struct TEIRerankRequest: Decodable {
    var query: String
    var texts: [String]
    var rawScores: Bool?
    var returnText: Bool?
    var truncate: Bool?
    var truncationDirection: String?

    enum CodingKeys: String, CodingKey {
        case query, texts, truncate
        case rawScores = "raw_scores"
        case returnText = "return_text"
        case truncationDirection = "truncation_direction"
    }
}

/// One element of the `POST /rerank` response array.
struct TEIRank: Encodable, Equatable {
    var index: Int
    var score: Float
    var text: String?
}

/// `POST /v1/rerank` request, the Cohere / Jina shape; with a feature store, `document_ids`
/// (ids of stored passages) may stand in place of `documents`.
struct CohereRerankRequest: Decodable {
    var model: String?
    var query: String
    var documents: [CohereDocument]?
    var documentIDs: [String]?
    var topN: Int?
    var returnDocuments: Bool?

    enum CodingKeys: String, CodingKey {
        case model, query, documents
        case documentIDs = "document_ids"
        case topN = "top_n"
        case returnDocuments = "return_documents"
    }
}

/// A document as Cohere and Jina accept it: a bare string or an object with a `text` field.
struct CohereDocument: Codable, Equatable {
    var text: String

    init(text: String) { self.text = text }

    private enum CodingKeys: String, CodingKey { case text }

    init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let text = try? single.decode(String.self) {
            self.text = text
            return
        }
        guard let object = try? decoder.container(keyedBy: CodingKeys.self),
              let text = try? object.decode(String.self, forKey: .text)
        else {
            throw DecodingError.typeMismatch(String.self, DecodingError.Context(
                codingPath: decoder.codingPath,
                debugDescription: "expected a string or an object with a string field `text`"))
        }
        self.text = text
    }
}

/// `POST /v1/rerank` response.
struct CohereRerankResponse: Encodable {
    struct Result: Encodable {
        var index: Int
        var relevanceScore: Float
        var document: CohereDocument?
        /// The passage's id, for a `document_ids` request (absent otherwise).
        var id: String?

        enum CodingKeys: String, CodingKey {
            case index, document, id
            case relevanceScore = "relevance_score"
        }
    }
    struct Meta: Encodable {
        struct BilledUnits: Encodable {
            var searchUnits: Int
            enum CodingKeys: String, CodingKey { case searchUnits = "search_units" }
        }
        var billedUnits: BilledUnits
        enum CodingKeys: String, CodingKey { case billedUnits = "billed_units" }
    }
    struct Usage: Encodable {
        var totalTokens: Int
        enum CodingKeys: String, CodingKey { case totalTokens = "total_tokens" }
    }

    var id: String
    var model: String
    var results: [Result]
    var meta: Meta
    var usage: Usage
}

/// `POST /v1/index` request: passages to encode and store under their ids.
struct IndexRequest: Decodable {
    struct Document: Decodable {
        var id: String
        var text: String
    }
    var documents: [Document]
}

/// `POST /v1/index` response: how many distinct ids were encoded and written, how many were
/// skipped because the store already held their text, and how many entries repeated an earlier
/// entry's id (the last one won).
struct IndexResponse: Encodable, Equatable {
    var indexed: Int
    var unchanged: Int
    var duplicates: Int
}

/// `DELETE /v1/index/{id}` response.
struct DeleteResponse: Encodable, Equatable {
    var id: String
    /// False when the store held no such id (the request still succeeds: the id is gone either way).
    var deleted: Bool
}

/// `GET /info` response; TEI's field names where TEI has the field. The model fields are null
/// while the model is loading.
struct InfoResponse: Encodable {
    var modelID: String?
    var modelDtype: String?
    var maxInputLength: Int?
    var ready: Bool
    var maxConcurrentRequests: Int
    var maxClientBatchSize: Int
    var maxBatchTokens: Int
    var payloadLimit: Int
    var iterativeInferenceAbove: Int
    var version: String
    var device: String?
    /// Whether requests are batched with the loaded engine; nil while it loads.
    var batching: Bool?
    var maxBatchDelayMilliseconds: Int

    enum CodingKeys: String, CodingKey {
        case ready, version
        case modelID = "model_id"
        case modelDtype = "model_dtype"
        case maxInputLength = "max_input_length"
        case maxConcurrentRequests = "max_concurrent_requests"
        case maxClientBatchSize = "max_client_batch_size"
        case maxBatchTokens = "max_batch_tokens"
        case payloadLimit = "payload_limit"
        case iterativeInferenceAbove = "iterative_inference_above"
        case device, batching
        case maxBatchDelayMilliseconds = "max_batch_delay_ms"
    }

    /// Encodes nulls for the model fields while loading, instead of leaving them out, so that
    /// clients see every field the OpenAPI document names.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(modelID, forKey: .modelID)
        try container.encode(modelDtype, forKey: .modelDtype)
        try container.encode(maxInputLength, forKey: .maxInputLength)
        try container.encode(ready, forKey: .ready)
        try container.encode(maxConcurrentRequests, forKey: .maxConcurrentRequests)
        try container.encode(maxClientBatchSize, forKey: .maxClientBatchSize)
        try container.encode(maxBatchTokens, forKey: .maxBatchTokens)
        try container.encode(payloadLimit, forKey: .payloadLimit)
        try container.encode(iterativeInferenceAbove, forKey: .iterativeInferenceAbove)
        try container.encode(version, forKey: .version)
        try container.encode(device, forKey: .device)
        try container.encode(batching, forKey: .batching)
        try container.encode(maxBatchDelayMilliseconds, forKey: .maxBatchDelayMilliseconds)
    }
}

/// `GET /health` response.
struct HealthResponse: Encodable {
    var status: String
    /// "cpu" or "cuda:N".
    var device: String
    /// The GPU's name; absent on the CPU.
    var deviceName: String?

    enum CodingKeys: String, CodingKey {
        case status, device
        case deviceName = "device_name"
    }
}
