// swift-tools-version:6.0
// libFuzzer harnesses for the main package's input surfaces (issue 17). A separate package so
// that the sanitizer flags never reach the main package's own build;
// build and run them with `run.sh`, which passes `-sanitize=fuzzer,address -enable-testing`.
import PackageDescription

/// One executable per input surface, whose `@main` hands the process to libFuzzer's driver
/// (FuzzSupport/Driver.swift). The main package's internal readers are reached through
/// `@testable import`, which is why `run.sh` builds with `-enable-testing`.
func harness(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
        name: "fuzz-\(name)",
        dependencies: dependencies + ["FuzzSupport"],
        path: "Sources/fuzz-\(name)"
    )
}

let listConRanker = Target.Dependency.product(name: "ListConRanker", package: "ListConRanker")
let server = Target.Dependency.product(name: "ListConRankerServer", package: "ListConRanker")

let package = Package(
    name: "ListConRankerFuzz",
    dependencies: [.package(name: "ListConRanker", path: "../..")],
    targets: [
        // Small helpers shared by the harnesses (input splitting, scratch files, invariants).
        .target(name: "FuzzSupport", dependencies: [listConRanker], path: "Sources/FuzzSupport"),
        harness("safetensors", [listConRanker]),
        harness("zip", [listConRanker]),
        harness("unpickler", [listConRanker]),
        harness("model-config", [listConRanker]),
        harness("tokenizer-files", [listConRanker]),
        harness("tokenizer", [listConRanker]),
        harness("eval-jsonl", [listConRanker]),
        harness("http-rerank", [listConRanker, server]),
    ]
)
