// swift-tools-version:6.0
// A program that uses grlhf's Swift API from another package: it depends on the repository by
// path and links the GRLHF library product (`swift run` here, or `make test-examples`).
import PackageDescription

let package = Package(
    name: "grlhf-swift-example",
    dependencies: [
        .package(name: "grlhf", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "JudgeExample",
            dependencies: [.product(name: "GRLHF", package: "grlhf")],
            swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
