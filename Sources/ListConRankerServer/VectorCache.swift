import Foundation

/// Pooled encoder vectors of recently seen texts, within a byte budget, least recently used
/// evicted first.
///
/// A passage's pooled vector depends on its text and the encoder alone (../shared/DESIGN.md §9),
/// so a text that comes back in a later request (a popular passage, a repeated query list) need
/// not go through BERT again. Keyed by the text itself, with Swift's `String` equality, which is
/// the equality the reranker already uses to encode identical texts once per call.
///
/// Thread-safe: request handlers look up and fill it concurrently.
final class VectorCache: @unchecked Sendable {
    /// Most bytes the entries may take (texts, vectors and a fixed overhead each).
    let capacityBytes: Int

    private struct Entry {
        var text: String
        var vector: [Float]
        var bytes: Int
        /// Neighbours in recency order (indices into `entries`, -1 for none).
        var newer: Int
        var older: Int
    }

    private let lock = NSLock()
    private var slotOfText: [String: Int] = [:]
    private var entries: [Entry] = []
    private var freeSlots: [Int] = []
    private var newest = -1
    private var oldest = -1
    private var usedBytes = 0

    /// A cache that holds at most `capacityBytes` (at least 1).
    init(capacityBytes: Int) {
        self.capacityBytes = max(capacityBytes, 1)
    }

    /// What one entry costs: the text's UTF-8 bytes, the vector's fp32 bytes, and the dictionary,
    /// array and string headers around them (an estimate, so that short texts are not free).
    static func cost(text: String, vector: [Float]) -> Int {
        text.utf8.count + vector.count * MemoryLayout<Float>.size + 128
    }

    /// Bytes the entries take now.
    var bytes: Int { lock.withLock { usedBytes } }

    /// Entries held now.
    var count: Int { lock.withLock { slotOfText.count } }

    /// The vector of each text, or nil where the cache has none; found entries become the most
    /// recently used.
    func vectors(for texts: [String]) -> [[Float]?] {
        lock.withLock {
            texts.map { text in
                guard let slot = slotOfText[text] else { return nil }
                moveToFront(slot)
                return entries[slot].vector
            }
        }
    }

    /// Adds or replaces `text`'s vector as the most recently used, evicting the least recently
    /// used entries to stay within the budget. An entry larger than the whole budget is not kept.
    func insert(_ text: String, vector: [Float]) {
        let cost = Self.cost(text: text, vector: vector)
        lock.withLock {
            if let slot = slotOfText[text] { remove(slot) }
            guard cost <= capacityBytes else { return }
            while usedBytes + cost > capacityBytes, oldest >= 0 { remove(oldest) }
            let entry = Entry(text: text, vector: vector, bytes: cost, newer: -1, older: newest)
            let slot: Int
            if let reused = freeSlots.popLast() {
                slot = reused
                entries[slot] = entry
            } else {
                slot = entries.count
                entries.append(entry)
            }
            if newest >= 0 { entries[newest].newer = slot }
            newest = slot
            if oldest < 0 { oldest = slot }
            slotOfText[text] = slot
            usedBytes += cost
        }
    }

    // MARK: - The recency list (callers hold the lock)

    private func unlink(_ slot: Int) {
        let (newer, older) = (entries[slot].newer, entries[slot].older)
        if newer >= 0 { entries[newer].older = older } else { newest = older }
        if older >= 0 { entries[older].newer = newer } else { oldest = newer }
        entries[slot].newer = -1
        entries[slot].older = -1
    }

    private func moveToFront(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        entries[slot].older = newest
        if newest >= 0 { entries[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private func remove(_ slot: Int) {
        unlink(slot)
        slotOfText[entries[slot].text] = nil
        usedBytes -= entries[slot].bytes
        // Release the vector and text now rather than when the slot is reused.
        entries[slot].vector = []
        entries[slot].text = ""
        freeSlots.append(slot)
    }
}
