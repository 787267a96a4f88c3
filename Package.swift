// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ListConRanker",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ListConRanker", targets: ["ListConRanker"]),
        .library(name: "ListConRankerStore", targets: ["ListConRankerStore"]),
        // A product so that operators can embed the service, and so that tools/fuzz can reach the
        // rerank routes' request decoding (a package sees only another package's products).
        .library(name: "ListConRankerServer", targets: ["ListConRankerServer"]),
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
        // Dense tensors and the compute kernels: no model names, no file formats.
        .target(
            name: "ListConRankerTensor",
            dependencies: ["CDNNL", "CKernels"],
            path: "Sources/ListConRankerTensor"
        ),
        // Checkpoint formats (safetensors, PyTorch zip/pickle) read into tensors: no model names.
        .target(
            name: "ListConRankerCheckpoint",
            dependencies: ["ListConRankerTensor"],
            path: "Sources/ListConRankerCheckpoint"
        ),
        // BERT WordPiece tokenizer: text in, token ids out.
        .target(
            name: "ListConRankerTokenizer",
            path: "Sources/ListConRankerTokenizer"
        ),
        // The model, ranking, evaluation and hub access; re-exports the three targets above, so
        // users import one module.
        .target(
            name: "ListConRanker",
            dependencies: ["ListConRankerTensor", "ListConRankerCheckpoint", "ListConRankerTokenizer"],
            path: "Sources/ListConRanker"
        ),
        .executableTarget(
            name: "listconranker",
            dependencies: [
                "ListConRanker",
                "CDNNL",
                "CKernels",
                "ListConRankerServer",
                "ListConRankerStore",
                "ListConRankerTraining",
                "ListConRankerDistributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/listconranker"
        ),
        // The HTTP rerank service (TEI and Cohere/Jina shapes) in front of a `RerankEngine`.
        .target(
            name: "ListConRankerServer",
            dependencies: [
                "ListConRanker",
                "ListConRankerStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/ListConRankerServer",
            exclude: ["openapi.json"]
        ),
        // A deterministic fake engine for the service's tests and load tests: in no product.
        .target(
            name: "ListConRankerFakeEngine",
            dependencies: ["ListConRanker", "ListConRankerServer"],
            path: "tools/loadtest/FakeEngine"
        ),
        // The service over the fake engine, for load tests of the service alone (tools/loadtest).
        .executableTarget(
            name: "listconranker-loadtest-server",
            dependencies: [
                "ListConRankerServer",
                "ListConRankerFakeEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "tools/loadtest/Server"
        ),
        // The MPI calls data-parallel jobs need, from libmpi loaded at run time (dlopen): the package
        // builds and runs without Open MPI installed.
        .target(
            name: "CMPI",
            path: "Sources/CMPI"
        ),
        // Ranks of an MPI job (mpirun, srun) and their collectives; one process without a launcher.
        .target(
            name: "ListConRankerDistributed",
            dependencies: ["CMPI"],
            path: "Sources/ListConRankerDistributed"
        ),
        // Training of the list head (stage 1: encoder frozen): fp32 master parameters, forward passes
        // that keep what backward needs, hand-written backward passes, Circle Loss, AdamW, and a
        // writer for the official `.pt` files. Kept apart from the inference path.
        .target(
            name: "ListConRankerTraining",
            dependencies: ["ListConRanker", "ListConRankerDistributed", "CDNNL", "CKernels"],
            path: "Sources/ListConRankerTraining",
            linkerSettings: [.linkedLibrary("dnnl")]
        ),
        .testTarget(
            name: "ListConRankerTrainingTests",
            dependencies: ["ListConRankerTraining", "ListConRanker", "ListConRankerDistributed"],
            path: "Tests/ListConRankerTrainingTests",
            exclude: ["Fixtures"]
        ),
        // Stored encoder vectors (../shared/DESIGN.md §9): SQLite for one machine, PostgreSQL for replicas.
        // The stores know vectors and hashes only; StoredPassages joins them to a Reranker.
        .target(
            name: "ListConRankerStore",
            dependencies: [
                "ListConRanker",
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
            dependencies: ["ListConRanker", "ListConRankerTensor", "ListConRankerCheckpoint", "ListConRankerTokenizer"],
            path: "Tests/ListConRankerTests",
            exclude: ["Fixtures"]
        ),
        // Runs the built `listconranker` as a subprocess on the library tests' fixtures; depending
        // on the executable target makes SwiftPM build it before these tests run.
        .testTarget(
            name: "ListConRankerCLITests",
            dependencies: ["listconranker"],
            path: "Tests/ListConRankerCLITests"
        ),
        .testTarget(
            name: "ListConRankerServerTests",
            dependencies: [
                "ListConRankerServer",
                "ListConRankerFakeEngine",
                "ListConRankerStore",
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
                // To run a statement past the timeout on the store's own connection pool.
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/ListConRankerStoreTests"
        ),
    ]
)
