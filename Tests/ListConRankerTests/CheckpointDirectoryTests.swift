import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

@Suite struct CheckpointDirectoryTests {
    // MARK: NamedWeights

    @Test func keysResolveWithOrWithoutTheBertPrefix() throws {
        let prefixed = NamedWeights(try openCheckpoint(at: Fixtures.url("checkpoint/bert_prefixed.safetensors")))
        let plain = NamedWeights(try openCheckpoint(at: Fixtures.url("checkpoint/bert_plain.safetensors")))
        for weights in [prefixed, plain] {
            let embeddings = weights.scoped("embeddings")
            let word = try embeddings.tensor("word_embeddings.weight", shape: [10, 4])
            #expect(word.count == 40)
            #expect(weights.contains("encoder.layer.0.attention.self.query.bias"))
        }
        #expect(prefixed.storedName("embeddings.LayerNorm.bias") == "bert.embeddings.LayerNorm.bias")
        #expect(plain.storedName("embeddings.LayerNorm.bias") == "embeddings.LayerNorm.bias")
        // The prefixed file's I64 buffer is not a weight to bind.
        #expect(!prefixed.contains("embeddings.position_ids"))
        #expect(prefixed.names == [
            "embeddings.LayerNorm.bias", "embeddings.LayerNorm.weight", "embeddings.position_embeddings.weight",
            "embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.bias",
            "encoder.layer.0.attention.self.query.weight",
        ])
    }

    @Test func everyFloatingPointKeyIsListedEvenTheUnusedCopy() throws {
        // Which keys a model may leave unread is the model's rule (ListTransformer.unusedKeyPrefixes),
        // not the format's: the reader lists and finds them all.
        let url = Fixtures.url("checkpoint/bert_plain.safetensors")
        let store = try openCheckpoint(at: url)
        #expect(store.descriptor(named: "list_transformer_layer.linear1.weight") != nil)
        let weights = NamedWeights(store)
        #expect(weights.names.contains("list_transformer_layer.linear1.weight"))
        #expect(weights.contains("list_transformer_layer.linear1.weight"))
        #expect(weights.names.count == store.descriptors.count)
    }

    @Test func bfloat16BindingKeepsBF16Bits() throws {
        let store = try openCheckpoint(at: Fixtures.url("checkpoint/bert_plain.safetensors"))
        let weights = NamedWeights(store).scoped("encoder.layer.0.attention.self.")
        let value = try weights.bfloat16Tensor("value.weight", shape: [4, 4])
        #expect(value.dtype == .bfloat16)
        #expect(value.scalars == (try weights.tensor("value.weight", shape: [4, 4])).scalars)
        let key = try weights.tensor("key.weight", shape: [4, 4]) // F16 in the file
        let golden = try #require(try CheckpointGolden.load()["bert_plain.safetensors"]?[
            "encoder.layer.0.attention.self.key.weight"])
        #expect(key.scalars == golden.values)
    }

    // MARK: ModelDirectory

    func makeDirectory(_ files: [String]) throws -> (CheckpointScratch, URL) {
        let scratch = try CheckpointScratch()
        for file in files { _ = try scratch.write(file, Array("{}".utf8)) }
        return (scratch, scratch.folder)
    }

    @Test func listConRankerDirectory() throws {
        let (scratch, url) = try makeDirectory([
            "config.json", "model.safetensors", "linear_in_embedding.pt", "list_transformer.pt", "vocab.txt",
            "tokenizer_config.json", "special_tokens_map.json",
        ])
        let directory = try ModelDirectory(url: url)
        #expect(directory.kind == .listConRanker)
        #expect(directory.absent == [.pytorchWeights, .tokenizerJSON])
        #expect(directory.encoderWeightsURL?.lastPathComponent == "model.safetensors")
        #expect(directory.checkpointFiles == [.safetensorsWeights, .linearInEmbedding, .listTransformer])
        withExtendedLifetime(scratch) {}
    }

    @Test func incompleteListConRankerDirectorySaysWhatIsMissing() throws {
        let (scratch, url) = try makeDirectory(["config.json", "pytorch_model.bin", "list_transformer.pt", "tokenizer.json"])
        let directory = try ModelDirectory(url: url)
        #expect(directory.kind == .incompleteListConRanker(missing: ["linear_in_embedding.pt"]))
        #expect(directory.encoderWeightsURL?.lastPathComponent == "pytorch_model.bin")
        withExtendedLifetime(scratch) {}
    }

    @Test func bertAndUnrecognisedDirectories() throws {
        let (scratch, url) = try makeDirectory(["config.json", "pytorch_model.bin", "vocab.txt"])
        #expect(try ModelDirectory(url: url).kind == .bertEncoder)
        let (emptyScratch, empty) = try makeDirectory(["README.md"])
        #expect(try ModelDirectory(url: empty).kind == .unrecognised(missing: [
            "config.json", "model.safetensors or pytorch_model.bin", "vocab.txt or tokenizer.json",
        ]))
        withExtendedLifetime((scratch, emptyScratch)) {}
    }

    @Test func missingDirectoryOrAFileIsAnError() throws {
        let absent = URL(fileURLWithPath: "/nonexistent/model-dir")
        let error = try #require(throws: CheckpointError.self) { try ModelDirectory(url: absent) }
        #expect(error.description == "/nonexistent/model-dir: model directory does not exist")
        let file = Fixtures.url("checkpoint/linear.pt")
        let notDirectory = try #require(throws: CheckpointError.self) { try ModelDirectory(url: file) }
        #expect(notDirectory.description.contains("not a directory"))
    }

    @Test(.enabled(if: Fixtures.realModelTestsRun("m3e-small"), "run tools/fetch-test-models.sh"))
    func realBertDirectory() throws {
        let directory = try ModelDirectory(url: try #require(Fixtures.downloadedModel("m3e-small")))
        #expect(directory.kind == .bertEncoder)
        #expect(directory.missingForListConRanker == ["linear_in_embedding.pt", "list_transformer.pt"])
    }
}
