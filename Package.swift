// swift-tools-version:6.0
import PackageDescription

// Engine (GRLHF) on OpenBLAS and libpng; the C ABI lives only in GRLHFC and ships as libgrlhf.so.
// Python reward functions (GRLHFPython) embed libpython3 (pkg-config python3-embed); only the CLI
// and Swift users of that product link it, never libgrlhf.so (loaded into Python processes).
// Release builds drop bounds checks in the kernels; debug builds keep every check.
let engine: [SwiftSetting] = [.swiftLanguageMode(.v5), .unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "grlhf",
    products: [
        .library(name: "GRLHF", targets: ["GRLHF"]),
        .library(name: "grlhf", type: .dynamic, targets: ["GRLHFC"]),
        .library(name: "GRLHFPython", targets: ["GRLHFPython"]),
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
        .systemLibrary(name: "CPython", path: "Sources/CPython", pkgConfig: "python3-embed",
                       providers: [.apt(["libpython3-dev"])]),
        .target(name: "GRLHF", dependencies: ["CBLAS", "CPNG"], swiftSettings: engine),
        .target(name: "CPythonShim", dependencies: ["CPython"]),
        .target(name: "GRLHFPython", dependencies: ["GRLHF", "CPythonShim"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "GRLHFC", dependencies: ["GRLHF"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(name: "grlhf", dependencies: [
            "GRLHF", "GRLHFPython", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "GRLHFTests", dependencies: ["GRLHF"], exclude: ["Fixtures"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "GRLHFPythonTests", dependencies: ["GRLHFPython", "GRLHF"], exclude: ["Fixtures"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
