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
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/listconranker"
        ),
        .testTarget(
            name: "ListConRankerTests",
            dependencies: ["ListConRanker"],
            path: "Tests/ListConRankerTests",
            exclude: ["Fixtures"]
        ),
    ]
)
