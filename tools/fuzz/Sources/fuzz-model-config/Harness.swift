// `config.json` as the model loader reads it: decoded into a BertConfiguration (transformers'
// defaults for absent keys) and validated. A configuration that passes must be one the encoder
// can be built from, so the invariants below are the ones its shapes rely on.
import Foundation
import FuzzSupport
@testable import ListConRanker

@main enum Harness {
    static func main() { runLibFuzzer { data, size in fuzz(data, size) } }
}

/// One input; returns 0 (libFuzzer's convention for "keep going").
private func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Data(bytes: data, count: size)
    let configuration: BertConfiguration
    do {
        configuration = try JSONDecoder().decode(BertConfiguration.self, from: bytes)
    } catch is DecodingError {
        return 0
    } catch {
        invariantFailed("decoding failed with something other than a DecodingError: \(error)")
    }
    do {
        try configuration.validate(file: "config.json")
    } catch is ModelError {
        return 0
    } catch {
        invariantFailed("validation failed with something other than a ModelError: \(error)")
    }
    let sizes = [configuration.vocabularySize, configuration.hiddenSize, configuration.layerCount,
                 configuration.headCount, configuration.intermediateSize,
                 configuration.maxPositionEmbeddings, configuration.typeVocabularySize]
    guard sizes.allSatisfy({ $0 > 0 }), configuration.hiddenSize % configuration.headCount == 0 else {
        invariantFailed("validated configuration the encoder cannot run: \(configuration)")
    }
    return 0
}
