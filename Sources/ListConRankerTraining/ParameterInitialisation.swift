extension ListHeadParameters {
    /// A new list head initialised as PyTorch initialises the original's modules, with values
    /// drawn from a ``SeededGenerator`` (so the distributions match PyTorch, the draws do not):
    ///
    /// - every `nn.Linear` (`linear_in_embedding`, `out_proj`, `linear1`, `linear2`,
    ///   `linear_score1/2/3`): weight `U(±1/√fan_in)` (kaiming-uniform with a = √5) and bias
    ///   `U(±1/√fan_in)`;
    /// - `self_attn.in_proj_weight`: xavier-uniform `U(±√(6/(fan_in + fan_out)))` =
    ///   `U(±√(6/(4·width)))`; `in_proj_bias` and `out_proj.bias` zero (MultiheadAttention's
    ///   `_reset_parameters`, which leaves `out_proj.weight` as its Linear drew it);
    /// - the query-tag `nn.Embedding`: `N(0, 1)`; every LayerNorm: scale 1, shift 0;
    /// - all transformer layers start equal: `nn.TransformerEncoder` deep-copies one template
    ///   layer, so layer 0 is drawn and copied to the others, as in the original.
    ///
    /// Tensors are drawn in layout order, each row-major, from one generator seeded by `seed`.
    public static func initialised(shape: ListHeadShape, seed: UInt64) -> ListHeadParameters {
        let layout = ParameterLayout(shape: shape)
        var values = [Float](repeating: 0, count: layout.count)
        var generator = SeededGenerator(seed: seed)
        let w = shape.width
        for entry in layout.entries {
            if let copied = Self.laterLayerSource(entry.name), let source = layout.entry(copied) {
                values.replaceSubrange(entry.range, with: values[source.range])
                continue
            }
            let name = entry.name
            let draw: (inout SeededGenerator) -> Float
            if name.hasSuffix("in_proj_weight") {
                let bound = (6.0 / Double(w + 3 * w)).squareRoot()
                draw = { $0.uniform(bound: bound) }
            } else if name.hasSuffix("in_proj_bias") || name.hasSuffix("out_proj.bias") || Self.isNormShift(name) {
                draw = { _ in 0 }
            } else if Self.isNormScale(name) {
                draw = { _ in 1 }
            } else if name == "query_embedding.query_embedding.weight" {
                draw = { $0.normal() }
            } else {
                // nn.Linear: the fan-in is the weight's column count, for the weight and its bias.
                let weightName = name.hasSuffix(".bias") ? String(name.dropLast("bias".count)) + "weight" : name
                let fanIn = layout.entry(weightName)?.shape.last ?? 1
                let bound = 1 / Double(fanIn).squareRoot()
                draw = { $0.uniform(bound: bound) }
            }
            for i in entry.range { values[i] = draw(&generator) }
        }
        return ListHeadParameters(layout: layout, countedValues: values)
    }

    /// For a tensor of layer N > 0, the same tensor of layer 0 (layers start as copies).
    private static func laterLayerSource(_ name: String) -> String? {
        let prefix = "list_transformer.layers."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        let digits = rest.prefix { $0 != "." }
        guard let layer = Int(digits), layer > 0 else { return nil }
        return prefix + "0" + rest.dropFirst(digits.count)
    }

    private static func isNormScale(_ name: String) -> Bool {
        name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name.hasSuffix("layerNorm.weight")
    }

    private static func isNormShift(_ name: String) -> Bool {
        name.hasSuffix("norm1.bias") || name.hasSuffix("norm2.bias") || name.hasSuffix("layerNorm.bias")
    }
}
