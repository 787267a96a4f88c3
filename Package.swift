// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ListConRanker",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ListConRanker", targets: ["ListConRanker"]),
        // The stores (vectors and hashes) and, in ListConRankerStoredPassages, their join to a Reranker.
        .library(name: "ListConRankerStore", targets: ["ListConRankerStore", "ListConRankerStoredPassages"]),
        // A product so that operators can embed the service, and so that tools/fuzz can reach the
        // rerank routes' request decoding (a package sees only another package's products).
        .library(name: "ListConRankerServer", targets: ["ListConRankerServer"]),
        // Training (stage 1 and 2) for Swift programs; `listconranker train` is a thin layer on it.
        .library(name: "ListConRankerTraining", targets: ["ListConRankerTraining"]),
        .executable(name: "listconranker", targets: ["listconranker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Already resolved through Hummingbird; named for the service's connection watcher.
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
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
        // The CUDA driver, cuBLASLt and NVRTC behind a thin C layer, loaded with dlopen at run time:
        // nothing of CUDA is needed to build (../shared/DESIGN.md §10).
        .target(
            name: "CCUDA",
            path: "Sources/CCUDA",
            linkerSettings: [.linkedLibrary("dl")]
        ),
        // The GPU backend: the same operations as the CPU's, on cuBLASLt and NVRTC-compiled kernels.
        .target(
            name: "ListConRankerCUDA",
            dependencies: ["ListConRankerTensor", "CCUDA"],
            path: "Sources/ListConRankerCUDA"
        ),
        // Checkpoint formats (safetensors, PyTorch zip/pickle) read into tensors: no model names.
        .target(
            name: "ListConRankerCheckpoint",
            dependencies: ["ListConRankerTensor"],
            path: "Sources/ListConRankerCheckpoint"
        ),
        // SHA-256, which the hub (downloads), the model files (encoder identity), the feature
        // store (text hashes) and training's feature cache all use; it belongs to none of them.
        .target(
            name: "ListConRankerDigest",
            path: "Sources/ListConRankerDigest"
        ),
        // BERT WordPiece tokenizer: text in, token ids out.
        .target(
            name: "ListConRankerTokenizer",
            path: "Sources/ListConRankerTokenizer"
        ),
        // The model, ranking, evaluation and hub access; re-exports the four targets above, so
        // users import one module.
        .target(
            name: "ListConRanker",
            dependencies: ["ListConRankerTensor", "ListConRankerCheckpoint", "ListConRankerTokenizer", "ListConRankerCUDA",
                           "ListConRankerDigest"],
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
                "ListConRankerStoredPassages",
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
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/ListConRankerServer",
            // Compiled into the binary (EmbeddedFiles.swift says why not a resource bundle).
            resources: [
                .embedInCode("openapi.json"),
                .embedInCode("Page/index.html"),
                .embedInCode("Page/page.css"),
                .embedInCode("Page/page.js"),
                .embedInCode("Page/icon.svg"),
            ]
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
            // Products through ListConRankerTensor (MatrixProduct); CKernels for the elementwise
            // training kernels (AdamW, GELU, softmax rows, the parallel loop); ListConRankerCUDA for
            // the GPU trainer's kernels and products.
            dependencies: ["ListConRanker", "ListConRankerDistributed", "ListConRankerTensor", "CKernels",
                           "ListConRankerCUDA"],
            path: "Sources/ListConRankerTraining"
        ),
        .testTarget(
            name: "ListConRankerTrainingTests",
            dependencies: ["ListConRankerTraining", "ListConRanker", "ListConRankerDistributed", "ListConRankerCUDA",
                           "CUDAEmulation"],
            path: "Tests/ListConRankerTrainingTests",
            exclude: ["Fixtures"]
        ),
        // Stored encoder vectors (../shared/DESIGN.md §9): SQLite for one machine, PostgreSQL for replicas.
        // The stores know vectors and hashes only (no model): ListConRankerStoredPassages joins them to a Reranker.
        .target(
            name: "ListConRankerStore",
            dependencies: [
                "ListConRankerDigest",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/ListConRankerStore"
        ),
        // Where the model and the store meet: StoredPassages ranks stored passages with a Reranker.
        // Re-exports ListConRankerStore.
        .target(
            name: "ListConRankerStoredPassages",
            dependencies: ["ListConRanker", "ListConRankerStore"],
            path: "Sources/ListConRankerStoredPassages"
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
        // Plain reference kernels (GELU, softmax, matrix products, per-sequence attention) that the
        // tests check the library's fused kernels against: in no product, so they do not ship.
        .target(
            name: "CKernelsReference",
            dependencies: ["CKernels"],
            path: "Tests/KernelReference/CKernelsReference"
        ),
        .target(
            name: "ListConRankerKernelReference",
            dependencies: ["ListConRankerTensor", "CKernels", "CKernelsReference"],
            path: "Tests/KernelReference/ListConRankerKernelReference"
        ),
        // The software CUDA device (tools/cuda-emulator) as the tests load it: the CUDA path runs,
        // and is checked, on a machine without a GPU.
        .target(
            name: "CUDAEmulation",
            dependencies: ["ListConRankerCUDA"],
            path: "Tests/CUDAEmulation"
        ),
        .testTarget(
            name: "ListConRankerTests",
            dependencies: ["ListConRanker", "ListConRankerTensor", "ListConRankerCheckpoint", "ListConRankerTokenizer",
                           "ListConRankerKernelReference", "CUDAEmulation"],
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
