// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ListConRanker",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ListConRanker", targets: ["ListConRanker"]),
        .library(name: "ListConRankerStore", targets: ["ListConRankerStore"]),
        .executable(name: "listconranker", targets: ["listconranker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // oneDNN (Debian: libdnnl-dev) for matrix products and normalisation primitives.
        .systemLibrary(
            name: "CDNNL",
            path: "Sources/CDNNL",
            providers: [.apt(["libdnnl-dev"])]
        ),
        // Small elementwise kernels in C, vectorised per function for the running CPU.
        .target(
            name: "CKernels",
            dependencies: ["CDNNL"],
            path: "Sources/CKernels",
            linkerSettings: [.linkedLibrary("dnnl")]
        ),
        .target(
            name: "ListConRanker",
            dependencies: ["CDNNL", "CKernels"],
            path: "Sources/ListConRanker"
        ),
        .executableTarget(
            name: "listconranker",
            dependencies: [
                "ListConRanker",
                "CDNNL",
                "CKernels",
                "ListConRankerServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/listconranker"
        ),
        // The HTTP rerank service (TEI and Cohere/Jina shapes) in front of a `RerankEngine`.
        .target(
            name: "ListConRankerServer",
            dependencies: [
                "ListConRanker",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/ListConRankerServer",
            exclude: ["openapi.json"]
        ),
        // Stand-alone server with the deterministic fake engine, for tools/loadtest until the model is wired.
        .executableTarget(
            name: "listconranker-loadtest-server",
            dependencies: [
                "ListConRankerServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "tools/loadtest/Server"
        ),
        // Stored encoder vectors (DESIGN.md §9): SQLite for one machine, PostgreSQL for replicas.
        // Independent of ListConRanker on purpose: the model only hands it vectors and hashes.
        .target(
            name: "ListConRankerStore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/ListConRankerStore"
        ),
        // Fills a store with synthetic vectors and times random look-ups (tools/bench/StoreLookup).
        .executableTarget(
            name: "store-bench",
            dependencies: [
                "ListConRankerStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "tools/bench/StoreLookup"
        ),
        .testTarget(
            name: "ListConRankerTests",
            dependencies: ["ListConRanker"],
            path: "Tests/ListConRankerTests",
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ListConRankerServerTests",
            dependencies: [
                "ListConRankerServer",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/ListConRankerServerTests"
        ),
        .testTarget(
            name: "ListConRankerStoreTests",
            dependencies: [
                "ListConRankerStore",
                // To damage a store file on purpose in the integrity tests.
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Tests/ListConRankerStoreTests"
        ),
    ]
)
