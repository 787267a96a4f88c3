// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ListConRanker",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ListConRanker", targets: ["ListConRanker"]),
        .executable(name: "listconranker", targets: ["listconranker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
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
        // Training of the list head (stage 1: encoder frozen): fp32 master parameters, forward passes
        // that keep what backward needs, hand-written backward passes, Circle Loss, AdamW, and a
        // writer for the official `.pt` files. Kept apart from the inference path.
        .target(
            name: "ListConRankerTraining",
            dependencies: ["ListConRanker", "CDNNL"],
            path: "Sources/ListConRankerTraining",
            linkerSettings: [.linkedLibrary("dnnl")]
        ),
        .testTarget(
            name: "ListConRankerTrainingTests",
            dependencies: ["ListConRankerTraining", "ListConRanker"],
            path: "Tests/ListConRankerTrainingTests",
            exclude: ["Fixtures"]
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
    ]
)
