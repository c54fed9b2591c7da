// swift-tools-version:6.1
import PackageDescription

// The RESP decoder under libFuzzer. Built and run by scripts/fuzz.sh (sanitizers need flags the root package must
// not carry, hence a package of its own).
let package = Package(
    name: "locky-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "locky", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "RESPFuzzer",
            dependencies: [
                .product(name: "LockyRESP", package: "locky"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
