import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// The values `tools/reference/make_checkpoint_fixtures.py` recorded with PyTorch 2.13:
/// file → tensor name → dtype, shape and row-major values.
struct CheckpointGolden: Decodable {
    struct Entry: Decodable {
        let dtype: String
        let shape: [Int]
        let values: [Float]
    }

    static func load() throws -> [String: [String: Entry]] {
        let data = try Data(contentsOf: Fixtures.url("checkpoint/golden.json"))
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode([String: [String: Entry]].self, from: data)
    }
}

@Suite struct CheckpointReaderTests {
    /// Opens `file` and checks every tensor against the golden recorded for `goldenFile`:
    /// same names, dtypes, shapes, and bit-identical Float32 values.
    func expectMatchesGolden(_ file: String, goldenFile: String? = nil,
                             format: CheckpointFormat) throws {
        let golden = try #require(try CheckpointGolden.load()[goldenFile ?? file])
        let store = try openCheckpoint(at: Fixtures.url("checkpoint/\(file)"))
        #expect(store.format == format)
        #expect(store.descriptors.map(\.name) == golden.keys.sorted())
        for (name, expected) in golden {
            let descriptor = try #require(store.descriptor(named: name))
            #expect(descriptor.dtype.rawValue == expected.dtype, "\(file) \(name)")
            #expect(descriptor.shape == expected.shape, "\(file) \(name)")
            let tensor = try store.tensor(named: name)
            #expect(tensor.dtype == .float32)
            #expect(tensor.shape == expected.shape)
            let bitsEqual = tensor.scalars.map(\.bitPattern) == expected.values.map(\.bitPattern)
            #expect(bitsEqual, "\(file) \(name): \(tensor.scalars) vs \(expected.values)")
        }
    }

    @Test func pytorchDtypesViewsAndSharedStorages() throws {
        try expectMatchesGolden("dtypes.pt", format: .pytorchZip)
    }

    @Test func pytorchLinearStateDict() throws {
        try expectMatchesGolden("linear.pt", format: .pytorchZip)
    }

    @Test func pytorchTransformerEncoderStateDictWithMetadata() throws {
        try expectMatchesGolden("encoder.pt", format: .pytorchZip)
        let store = try openCheckpoint(at: Fixtures.url("checkpoint/encoder.pt"))
        #expect(store.descriptors.count == 24) // 12 tensors per layer, 2 layers
        #expect(try #require(store as? PyTorchCheckpoint).archiveFolder == "encoder")
    }

    @Test func pytorchPickleProtocol4() throws {
        try expectMatchesGolden("encoder_protocol4.pt", goldenFile: "encoder.pt", format: .pytorchZip)
    }

    @Test func pytorchZip64ExtraFieldsAndEndRecords() throws {
        try expectMatchesGolden("linear_zip64.pt", goldenFile: "linear.pt", format: .pytorchZip)
    }

    @Test func pytorchParameterRebuild() throws {
        try expectMatchesGolden("parameter.pt", format: .pytorchZip)
    }

    @Test func safetensorsWithPrefixAndMetadata() throws {
        try expectMatchesGolden("bert_prefixed.safetensors", format: .safetensors)
        let file = try SafetensorsFile(url: Fixtures.url("checkpoint/bert_prefixed.safetensors"))
        #expect(file.metadata == ["format": "pt"])
        #expect(file.otherTensors == [OtherTensorDescriptor(name: "bert.embeddings.position_ids",
                                                            typeName: "I64", shape: [1, 6])])
        #expect(throws: CheckpointError.self) { try file.tensor(named: "bert.embeddings.position_ids") }
    }

    @Test func safetensorsF16AndBF16() throws {
        try expectMatchesGolden("bert_plain.safetensors", format: .safetensors)
    }

    @Test func viewsAreMaterialisedFromTheSharedStorage() throws {
        // Independent of the golden: the transposed and sliced views must equal what indexing
        // `base` says they are.
        let store = try openCheckpoint(at: Fixtures.url("checkpoint/dtypes.pt"))
        let base = try store.tensor(named: "base").scalars // [5, 6]
        let transposed = try store.tensor(named: "transposed")
        #expect(transposed.shape == [6, 5])
        for row in 0..<6 { for column in 0..<5 {
            #expect(transposed.scalars[row * 5 + column] == base[column * 6 + row])
        } }
        let slice = try store.tensor(named: "column_slice") // base[:, 1:5:2]
        #expect(slice.shape == [5, 2])
        for row in 0..<5 {
            #expect(slice.scalars[row * 2] == base[row * 6 + 1])
            #expect(slice.scalars[row * 2 + 1] == base[row * 6 + 3])
        }
        #expect(try store.tensor(named: "view_offset").scalars == Array(base[12..<24]))
        #expect(try store.tensor(named: "scalar").scalars == [2.5])
        #expect(try store.tensor(named: "empty").scalars.isEmpty)
    }

    @Test func bfloat16TensorsCopyBF16BitsAndRoundOthers() throws {
        let store = try openCheckpoint(at: Fixtures.url("checkpoint/dtypes.pt"))
        let asFloat = try store.tensor(named: "bf16")
        let asBF16 = try store.bfloat16Tensor(named: "bf16")
        #expect(asBF16.dtype == .bfloat16)
        #expect(asBF16.shape == [4, 2])
        #expect(asBF16.scalars == asFloat.scalars) // BF16 → BF16 is exact
        for name in ["f32", "f16", "transposed"] {
            let float = try store.tensor(named: name)
            let rounded = try store.bfloat16Tensor(named: name)
            #expect(rounded.shape == float.shape)
            rounded.withBFloat16Bits { bits in
                #expect(Array(bits) == float.scalars.map(BFloat16.bits), "\(name)")
            }
        }
    }

    @Test func missingTensorNamesTheFileAndKey() throws {
        let url = Fixtures.url("checkpoint/linear.pt")
        let store = try openCheckpoint(at: url)
        let error = try #require(throws: CheckpointError.self) { try store.tensor(named: "nope") }
        #expect(error.description.contains(url.path))
        #expect(error.description.contains("\"nope\""))
    }

    @Test func rolesAreRecognisedFromKeys() throws {
        let bert = try openCheckpoint(at: Fixtures.url("checkpoint/bert_prefixed.safetensors"))
        #expect(CheckpointRole(bert) == .bertEncoder(layers: 1, prefixed: true))
        let linear = try openCheckpoint(at: Fixtures.url("checkpoint/linear.pt"))
        #expect(CheckpointRole(linear) == .linearInEmbedding)
        let dtypes = try openCheckpoint(at: Fixtures.url("checkpoint/dtypes.pt"))
        #expect(CheckpointRole(dtypes) == .unknown)
    }

    @Test(.enabled(if: Fixtures.realModelTestsRun("m3e-small"), "run tools/fetch-test-models.sh"))
    func realPytorchBertWithInt64Buffer() throws {
        let directory = try #require(Fixtures.downloadedModel("m3e-small"))
        let store = try openCheckpoint(at: directory.appendingPathComponent("pytorch_model.bin"))
        #expect(store.format == .pytorchZip)
        #expect(CheckpointRole(store) == .bertEncoder(layers: 4, prefixed: false))
        #expect(store.otherTensors.map(\.name) == ["embeddings.position_ids"])
        #expect(store.descriptor(named: "embeddings.word_embeddings.weight")?.shape == [21128, 512])
        let weights = NamedWeights(store)
        let query = try weights.scoped("encoder.layer.3.attention.self").tensor("query.weight", shape: [512, 512])
        #expect(query.scalars.allSatisfy { $0.isFinite })
        #expect(query.scalars.contains { $0 != 0 })
    }

    @Test(.enabled(if: Fixtures.realModelTestsRun("all-MiniLM-L6-v2"), "run tools/fetch-test-models.sh"))
    func realSafetensorsBert() throws {
        let directory = try #require(Fixtures.downloadedModel("all-MiniLM-L6-v2"))
        let store = try openCheckpoint(at: directory.appendingPathComponent("model.safetensors"))
        #expect(store.format == .safetensors)
        #expect(CheckpointRole(store) == .bertEncoder(layers: 6, prefixed: false))
        let embeddings = try NamedWeights(store).tensor("embeddings.word_embeddings.weight", shape: [30522, 384])
        #expect(embeddings.scalars.allSatisfy { $0.isFinite })
    }
}
