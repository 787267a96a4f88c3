import ArgumentParser
import Foundation
import ListConRanker

/// `listconranker inspect PATH`: what a checkpoint file or model directory holds.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List a checkpoint's tensors (name, dtype, shape), its parameter count and what kind of checkpoint it is.",
        discussion: """
            PATH is a checkpoint file (safetensors or a PyTorch zip .pt/.bin) or a model directory. \
            For a directory, tells whether it is a BERT encoder or a ListConRanker directory and which \
            of the official files are present or missing, then lists each checkpoint file in it.
            """
    )

    @Argument(help: "A checkpoint file or a model directory.")
    var path: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    @Flag(name: .long, help: "Report the resident memory (VmRSS) after opening (and after --convert).")
    var memory = false

    @Flag(name: .long, help: "Convert every tensor to Float32 and report the time taken.")
    var convert = false

    func run() throws {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ValidationError("\(path): no such file or directory")
        }
        var report = InspectReport(path: url.path)
        var stores: [any TensorStore] = []
        if isDirectory.boolValue {
            let directory = try ModelDirectory(url: url)
            report.directory = .init(
                kind: Self.identifier(of: directory.kind),
                summary: directory.kind.description,
                present: directory.present.map(\.rawValue),
                absent: directory.absent.map(\.rawValue),
                missingForListConRanker: directory.missingForListConRanker)
            for file in directory.checkpointFiles {
                stores.append(try openCheckpoint(at: directory.url(of: file)))
            }
        } else {
            stores.append(try openCheckpoint(at: url))
        }
        report.checkpoints = stores.map(CheckpointReport.init)
        report.parameterCount = report.checkpoints.reduce(0) { $0 + $1.parameterCount }
        if memory { report.residentBytesAfterOpen = ResidentMemory.currentBytes() }
        if convert {
            var elements = 0
            let start = Date()
            for store in stores {
                for descriptor in store.descriptors {
                    elements += try store.tensor(named: descriptor.name).count
                }
            }
            report.conversion = .init(elements: elements, seconds: Date().timeIntervalSince(start))
            if memory { report.residentBytesAfterConvert = ResidentMemory.currentBytes() }
        }
        withExtendedLifetime(stores) {}
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text, terminator: "")
        }
    }

    /// A stable name of a directory kind, for scripts reading `--json`.
    static func identifier(of kind: ModelDirectory.Kind) -> String {
        switch kind {
        case .listConRanker: return "listconranker"
        case .incompleteListConRanker: return "incomplete-listconranker"
        case .bertEncoder: return "bert-encoder"
        case .unrecognised: return "unrecognised"
        }
    }
}

/// What `inspect` found, printable as text or JSON.
struct InspectReport: Encodable {
    struct Directory: Encodable {
        /// `listconranker`, `incomplete-listconranker`, `bert-encoder` or `unrecognised`.
        var kind: String
        var summary: String
        var present: [String]
        var absent: [String]
        var missingForListConRanker: [String]
    }

    struct Conversion: Encodable {
        var elements: Int
        var seconds: Double
    }

    var path: String
    var directory: Directory?
    var checkpoints: [CheckpointReport] = []
    /// Over all checkpoint files listed.
    var parameterCount = 0
    var residentBytesAfterOpen: Int?
    var conversion: Conversion?
    var residentBytesAfterConvert: Int?

    init(path: String) { self.path = path }

    var text: String {
        var out = ""
        if let directory {
            out += "\(path): \(directory.summary)\n"
            out += "  present: \(directory.present.isEmpty ? "(none)" : directory.present.joined(separator: ", "))\n"
            out += "  absent:  \(directory.absent.isEmpty ? "(none)" : directory.absent.joined(separator: ", "))\n"
            if !directory.missingForListConRanker.isEmpty {
                out += "  missing for a ListConRanker: \(directory.missingForListConRanker.joined(separator: ", "))\n"
            }
        }
        for checkpoint in checkpoints {
            if !out.isEmpty { out += "\n" }
            out += "\(checkpoint.path): \(checkpoint.format), \(checkpoint.role)\n"
            let width = checkpoint.tensors.map(\.name.count).max() ?? 0
            for tensor in checkpoint.tensors {
                out += "  \(tensor.name.padding(toLength: width, withPad: " ", startingAt: 0))  "
                    + "\(tensor.dtype.padding(toLength: 4, withPad: " ", startingAt: 0)) \(tensor.shape)\n"
            }
            for tensor in checkpoint.otherTensors {
                out += "  \(tensor.name.padding(toLength: width, withPad: " ", startingAt: 0))  "
                    + "\(tensor.dtype) \(tensor.shape) (not read)\n"
            }
            out += "  \(checkpoint.tensors.count) tensors, \(checkpoint.parameterCount) parameters\n"
        }
        if checkpoints.count > 1 {
            out += "\n\(checkpoints.count) checkpoint files, \(parameterCount) parameters in all\n"
        }
        if let residentBytesAfterOpen {
            out += "\nresident memory after open: \(Self.megabytes(residentBytesAfterOpen))\n"
        }
        if let conversion {
            out += "converted \(conversion.elements) elements to Float32 in "
                + String(format: "%.3f s (%.0f M elements/s)\n", conversion.seconds,
                         Double(conversion.elements) / max(conversion.seconds, 1e-9) / 1e6)
        }
        if let residentBytesAfterConvert {
            out += "resident memory after converting (mapped pages included): \(Self.megabytes(residentBytesAfterConvert))\n"
        }
        return out
    }

    static func megabytes(_ bytes: Int) -> String {
        String(format: "%.1f MiB", Double(bytes) / 1_048_576)
    }
}

/// One checkpoint file's listing.
struct CheckpointReport: Encodable {
    struct TensorEntry: Encodable {
        var name: String
        var dtype: String
        var shape: [Int]
    }

    var path: String
    var format: String
    var role: String
    var tensors: [TensorEntry]
    var otherTensors: [TensorEntry]
    var parameterCount: Int

    init(_ store: any TensorStore) {
        path = store.url.path
        format = store.format.rawValue
        role = CheckpointRole(store).description
        tensors = store.descriptors.map { TensorEntry(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape) }
        otherTensors = store.otherTensors.map { TensorEntry(name: $0.name, dtype: $0.typeName, shape: $0.shape) }
        parameterCount = store.parameterCount
    }
}
