// swift-tools-version:6.0
import PackageDescription

// Engine (GRLHF) on OpenBLAS and libpng; the C ABI lives only in GRLHFC and ships as libgrlhf.so.
// Release builds drop bounds checks in the kernels; debug builds keep every check.
let engine: [SwiftSetting] = [.swiftLanguageMode(.v5), .unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "grlhf",
    products: [
        .library(name: "GRLHF", targets: ["GRLHF"]),
        .library(name: "grlhf", type: .dynamic, targets: ["GRLHFC"]),
        .executable(name: "grlhf-cli", targets: ["grlhf"]),  // `make build` links it as bin/grlhf
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG",
                       providers: [.apt(["libpng-dev"])]),
        .target(name: "GRLHF", dependencies: ["CBLAS", "CPNG"], swiftSettings: engine),
        .target(name: "GRLHFC", dependencies: ["GRLHF"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(name: "grlhf", dependencies: [
            "GRLHF", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "GRLHFTests", dependencies: ["GRLHF"], exclude: ["Fixtures"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
