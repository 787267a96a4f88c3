import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// A fresh temporary directory for one test; the suite that makes it removes it in `deinit`.
func makeEvaluationScratchDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("listconranker-evaluation-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite final class EvaluationDatasetTests {
    let directory: URL
    init() throws { directory = try makeEvaluationScratchDirectory() }
    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Writes `text` to a file in the scratch directory and tries to load it as a dataset.
    func load(_ text: String, name: String = "data.jsonl", limit: Int? = nil) throws -> RerankingDataset {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return try RerankingDataset(contentsOf: url, limit: limit)
    }

    func expectError(_ text: String, _ expected: (String) -> RerankingDatasetError) {
        let file = directory.appendingPathComponent("data.jsonl").path
        #expect(throws: expected(file)) { try load(text) }
    }

    @Test func readsTheFixtureDataset() throws {
        let dataset = try RerankingDataset(contentsOf: Fixtures.url("evaluation/fixture_dataset.jsonl"))
        #expect(dataset.samples.count == 60)
        #expect(dataset.scorableSampleCount == 55)
        #expect(dataset.samples.map { $0.positives.count + $0.negatives.count }.max() == 150)
        #expect(dataset.samples.map { $0.positives.count + $0.negatives.count }.min() == 2)
        #expect(dataset.samples[0] == RerankingSample(
            query: "怎样预防胃炎", positives: ["胃炎期间可以适量吃西瓜"], negatives: ["出现鼻塞流涕时要警惕近视"], line: 1))
        #expect(dataset.samples[59].line == 60)
    }

    @Test func skipsBlankLinesAndKeepsLineNumbers() throws {
        let text = "\n" + #"{"query": "问", "positive": ["甲"], "negative": ["乙", "丙"]}"# + "\r\n  \n"
            + #"{"query": "q2", "positive": [], "negative": ["x"], "extra": 1}"#  // no final newline
        let dataset = try load(text)
        #expect(dataset.samples.map(\.line) == [2, 4])
        #expect(dataset.samples[0].passages == ["甲", "乙", "丙"])
        #expect(dataset.samples[0].relevance == [true, false, false])
        #expect(!dataset.samples[1].isScorable)
    }

    @Test func acceptsAByteOrderMark() throws {
        let dataset = try load("\u{FEFF}" + #"{"query": "q", "positive": ["p"], "negative": ["n"]}"# + "\n")
        #expect(dataset.samples.count == 1)
    }

    @Test func limitStopsEarly() throws {
        let line = #"{"query": "q", "positive": ["p"], "negative": ["n"]}"#
        // The third line is broken: a limit of 2 must not even read it.
        let dataset = try load([line, line, "{broken"].joined(separator: "\n"), limit: 2)
        #expect(dataset.samples.count == 2)
        #expect(throws: RerankingDatasetError.invalidLimit(0)) { try load(line, limit: 0) }
    }

    @Test func malformedLineNamesItsLine() throws {
        let good = #"{"query": "q", "positive": ["p"], "negative": ["n"]}"#
        let file = directory.appendingPathComponent("data.jsonl").path
        do {
            _ = try load([good, good, #"{"query": "q", "positive": ["p"], "negative": ["n"]"#].joined(separator: "\n"))
            Issue.record("a truncated object must not load")
        } catch let RerankingDatasetError.malformedLine(errorFile, line, _) {
            #expect(errorFile == file)
            #expect(line == 3)
        }
        do {
            _ = try load(good + "\n[1, 2]\n")
            Issue.record("an array must not load")
        } catch let RerankingDatasetError.malformedLine(_, line, reason) {
            #expect(line == 2)
            #expect(reason.contains("object"))
        }
    }

    @Test func missingFieldIsNamed() {
        expectError(#"{"query": "q", "positive": ["p"]}"#) { .missingField(file: $0, line: 1, field: "negative") }
        expectError("\n" + #"{"positive": ["p"], "negative": []}"#) { .missingField(file: $0, line: 2, field: "query") }
    }

    @Test func wrongTypesAreNamed() {
        expectError(#"{"query": 7, "positive": ["p"], "negative": ["n"]}"#) {
            .wrongType(file: $0, line: 1, field: "query", expected: "a string")
        }
        expectError(#"{"query": "q", "positive": "p", "negative": ["n"]}"#) {
            .wrongType(file: $0, line: 1, field: "positive", expected: "an array of strings")
        }
        expectError(#"{"query": "q", "positive": ["p"], "negative": ["n", 3]}"#) {
            .wrongType(file: $0, line: 1, field: "negative[1]", expected: "a string")
        }
        expectError(#"{"query": null, "positive": ["p"], "negative": ["n"]}"#) {
            .wrongType(file: $0, line: 1, field: "query", expected: "a string")
        }
    }

    @Test func emptyFileIsAnError() {
        expectError("") { .empty(file: $0) }
        expectError("\n \n\t\n") { .empty(file: $0) }
    }

    @Test func missingFileIsAnError() {
        let url = directory.appendingPathComponent("absent.jsonl")
        #expect {
            try RerankingDataset(contentsOf: url)
        } throws: { error in
            guard case let RerankingDatasetError.unreadable(file, _)? = error as? RerankingDatasetError else { return false }
            return file == url.path
        }
    }

    @Test func errorMessagesNameFileAndLine() {
        let message = RerankingDatasetError.missingField(file: "/d/x.jsonl", line: 12, field: "negative").description
        #expect(message == #"/d/x.jsonl:12: missing field "negative""#)
    }

    @Test func lineReaderHandlesChunkBoundariesInsideCharacters() throws {
        // Multi-byte characters and line endings straddle the 5-byte chunks.
        let lines = ["高血压应该怎么办", "", "a", "建议多喝温水，同时注意休息", "最后一行"]
        let url = directory.appendingPathComponent("lines.txt")
        try Data((lines.joined(separator: "\r\n")).utf8).write(to: url)
        let reader = try LineReader(url: url, chunkSize: 5)
        var read: [String] = []
        var last: LineReader.Line?
        while let line = try reader.next() {
            read.append(String(decoding: line.bytes, as: UTF8.self))
            last = line
        }
        #expect(read == lines)
        #expect(last?.isTerminated == false)
        #expect(last?.number == 5)
        #expect(last?.endOffset == UInt64(try Data(contentsOf: url).count))
    }
}
