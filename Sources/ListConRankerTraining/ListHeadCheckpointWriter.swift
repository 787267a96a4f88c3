import Foundation

/// Writes list-head parameters in the official layout, for the unchanged inference code (and
/// the original PyTorch code) to load: `linear_in_embedding.pt` (`weight`, `bias`) and
/// `list_transformer.pt`, whose keys and module metadata are those the original's
/// `ListTransformer.state_dict()` has — including the unused template copy
/// `list_transformer_layer.*`, written as a copy of layer 0 (the original deep-copies that
/// template into every layer), without which its `load_state_dict(strict=True)` refuses the file.
public enum ListHeadCheckpointWriter {
    /// Writes both head files into `directory` (which must exist); other files there (the
    /// encoder, tokenizer, config) are left alone.
    public static func write(_ parameters: ListHeadParameters, to directory: URL) throws {
        let input = try inputEmbeddingTensors(parameters)
        try PyTorchStateDictWriter.write(input, modules: [""],
                                         to: directory.appendingPathComponent("linear_in_embedding.pt"))
        try PyTorchStateDictWriter.write(try listTransformerTensors(parameters),
                                         modules: listTransformerModules(layers: parameters.shape.layers),
                                         to: directory.appendingPathComponent("list_transformer.pt"))
    }

    /// `linear_in_embedding.pt`'s tensors: `weight` [W, H], `bias` [W].
    static func inputEmbeddingTensors(_ parameters: ListHeadParameters) throws -> [PyTorchStateDictWriter.Tensor] {
        try parameters.layout.entries.filter { $0.name.hasPrefix(ParameterLayout.inputEmbeddingPrefix) }.map { entry in
            try PyTorchStateDictWriter.Tensor(name: String(entry.name.dropFirst(ParameterLayout.inputEmbeddingPrefix.count)),
                                              shape: entry.shape, values: Array(parameters.values[entry.range]))
        }
    }

    /// `list_transformer.pt`'s tensors in `state_dict()` order: the template copy first (it is
    /// registered first in the original), then the layers, tag embedding and score head.
    static func listTransformerTensors(_ parameters: ListHeadParameters) throws -> [PyTorchStateDictWriter.Tensor] {
        let layout = parameters.layout
        let template = try ParameterLayout.layerTensors(prefix: "list_transformer.layers.0.", width: layout.shape.width,
                                                        feedForward: layout.shape.feedForward).map { name, _ in
            let entry = try layout.require(name)
            return try PyTorchStateDictWriter.Tensor(
                name: "list_transformer_layer." + name.dropFirst("list_transformer.layers.0.".count),
                shape: entry.shape, values: Array(parameters.values[entry.range]))
        }
        let rest = try layout.entries.filter { !$0.name.hasPrefix(ParameterLayout.inputEmbeddingPrefix) }.map { entry in
            try PyTorchStateDictWriter.Tensor(name: entry.name, shape: entry.shape,
                                              values: Array(parameters.values[entry.range]))
        }
        return template + rest
    }

    /// The module paths PyTorch records in the original ListTransformer's `_metadata`, in its order.
    static func listTransformerModules(layers: Int) -> [String] {
        let layerModules = ["self_attn", "self_attn.out_proj", "linear1", "dropout", "linear2", "norm1", "norm2",
                            "dropout1", "dropout2"]
        func layer(_ prefix: String) -> [String] { [prefix] + layerModules.map { "\(prefix).\($0)" } }
        var modules = [""] + layer("list_transformer_layer") + ["list_transformer", "list_transformer.layers"]
        for i in 0..<layers { modules += layer("list_transformer.layers.\(i)") }
        return modules + ["relu", "query_embedding", "query_embedding.query_embedding", "query_embedding.layerNorm",
                          "linear_score3", "linear_score2", "linear_score1"]
    }
}
