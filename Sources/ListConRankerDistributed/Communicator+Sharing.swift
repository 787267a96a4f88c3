extension Communicator {
    /// Items `0 ..< count` computed once across the job: this rank computes `compute(i)` for the
    /// items of its ``share(of:)``, and every rank receives every item's floats in item order.
    /// Items may have any number of floats (a list's scores, a text's vector).
    public func shared(_ count: Int, _ compute: (Int) throws -> [Float]) throws -> [[Float]] {
        let mine = share(of: count)
        let results = try mine.map(compute)
        guard size > 1 else { return results }
        // Each item as a little-endian UInt32 float count, then its floats.
        var bytes: [UInt8] = []
        for values in results {
            withUnsafeBytes(of: UInt32(values.count).littleEndian) { bytes.append(contentsOf: $0) }
            values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        }
        var all: [[Float]] = []
        all.reserveCapacity(count)
        for (r, part) in try allGather(bytes).enumerated() {
            let expected = Self.share(of: count, rank: r, size: size).count
            var offset = 0
            for _ in 0..<expected {
                guard offset + 4 <= part.count else {
                    throw DistributedError.ranksDisagree("rank \(r) sent fewer items than its share of \(count)")
                }
                let length = Int(part[offset..<offset + 4].withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
                offset += 4
                let end = offset + length * 4
                guard end <= part.count else { throw DistributedError.ranksDisagree("rank \(r) sent a truncated item") }
                var values = [Float](repeating: 0, count: length)
                values.withUnsafeMutableBytes { target in part[offset..<end].withUnsafeBytes { target.copyMemory(from: $0) } }
                all.append(values)
                offset = end
            }
        }
        guard all.count == count else { throw DistributedError.ranksDisagree("gathered \(all.count) of \(count) items") }
        return all
    }
}
