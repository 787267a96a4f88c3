import ArgumentParser
import Foundation
import ListConRanker
import ListConRankerStore
import ListConRankerStoredPassages

/// `--store`: where passages' pooled encoder vectors are kept (passages encoded once).
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "A feature store: an SQLite file (features.sqlite or sqlite:PATH) or postgres://user:password@host/db. Passages are then given by id and not encoded again.")
    var store: String?

    func validate() throws {
        if let store {
            do { _ = try FeatureStoreLocation(parsing: store) } catch { throw ValidationError("--store: \(error)") }
        }
    }

    /// The store opened for `reranker`'s encoder (nil without `--store`).
    func open(for reranker: Reranker, precision: VectorPrecision? = nil) async throws -> StoredPassages? {
        guard let store else { return nil }
        do {
            return try await StoredPassages.open(reranker: reranker, location: try FeatureStoreLocation(parsing: store),
                                                 precision: precision)
        } catch let error as FeatureStoreError {
            throw InputError("\(error)")
        }
    }
}

/// `{"query": …, "ids": […]}` lines: lists of stored passages.
enum StoredQueryLists {
    static func read(_ path: String) throws -> [(query: String, ids: [String])] {
        struct Line: Decodable { let query: String; let ids: [String] }
        return try InputText.jsonLines(path, expected: "{\"query\": string, \"ids\": [string]}") { (line: Line, place) in
            guard !line.query.allSatisfy(\.isWhitespace) else { throw InputError("\(place): the query is empty") }
            return (line.query, line.ids)
        }
    }
}
