/// The encoder's per-token ops on the CPU that are not a layer of their own kind: the embedding
/// sum (a gather of table rows) and its backward (a scatter-add into them), and mean pooling of
/// each text's rows and its backward. Texts are packed (``EncoderNetwork``): text t's tokens are
/// consecutive rows, its position i the i-th of them.
enum EncoderTokenOps {
    /// `sums[row] = (words[id] + tokenType[0]) + positions[i]` for each token (the inference
    /// encoder's order of the two additions).
    static func embed(sums: UnsafeMutablePointer<Float>, words: UnsafePointer<Float>, tokenType: UnsafePointer<Float>,
                      positions: UnsafePointer<Float>, texts: [[Int32]], width h: Int) {
        var row = 0
        for ids in texts {
            for (position, id) in ids.enumerated() {
                let word = words + Int(id) * h, place = positions + position * h
                let target = sums + row * h
                for j in 0..<h { target[j] = (word[j] + tokenType[j]) + place[j] }
                row += 1
            }
        }
    }

    /// Adds each token's row of `dsums` into the rows it was gathered from, token after token (so
    /// a word that occurs twice gets both, in order).
    static func embedBackward(dwords: UnsafeMutablePointer<Float>, dtokenType: UnsafeMutablePointer<Float>,
                              dpositions: UnsafeMutablePointer<Float>, dsums: UnsafePointer<Float>, texts: [[Int32]],
                              width h: Int) {
        var row = 0
        for ids in texts {
            for (position, id) in ids.enumerated() {
                let source = dsums + row * h
                let word = dwords + Int(id) * h, place = dpositions + position * h
                for j in 0..<h {
                    word[j] += source[j]
                    dtokenType[j] += source[j]
                    place[j] += source[j]
                }
                row += 1
            }
        }
    }

    /// `pooled[t]` = the mean of text t's rows of `hidden` (summed in Double: texts can be 512 rows).
    static func meanPool(pooled: UnsafeMutablePointer<Float>, hidden: UnsafePointer<Float>, segments: [Range<Int>],
                         width h: Int) {
        var sums = [Double](repeating: 0, count: h)
        for (t, segment) in segments.enumerated() {
            for j in 0..<h { sums[j] = 0 }
            for row in segment {
                let source = hidden + row * h
                for j in 0..<h { sums[j] += Double(source[j]) }
            }
            let target = pooled + t * h
            for j in 0..<h { target[j] = Float(sums[j] / Double(segment.count)) }
        }
    }

    /// Every row of text t gets `dpooled[t] / L_t` (overwritten).
    static func meanPoolBackward(dhidden: UnsafeMutablePointer<Float>, dpooled: UnsafePointer<Float>,
                                 segments: [Range<Int>], width h: Int) {
        for (t, segment) in segments.enumerated() {
            let source = dpooled + t * h, inverse = 1 / Float(segment.count)
            for row in segment {
                let target = dhidden + row * h
                for j in 0..<h { target[j] = source[j] * inverse }
            }
        }
    }
}
