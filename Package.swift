// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "weft",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "weft", targets: ["weft"]),
        .executable(name: "weft-proxy", targets: ["weft-proxy"]),
        .executable(name: "weft-controller", targets: ["weft-controller"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // Vocabulary used everywhere: workload identities and their parsers.
        .target(name: "WeftCore", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // Pure decisions shared by both planes: balancing, backend distribution, the policy model. No I/O.
        .target(name: "WeftPolicy", dependencies: ["WeftCore"]),
        // The resource store's protocol, its values and errors: what every backend implements.
        .target(name: "WeftStore", dependencies: ["WeftAPI", "WeftCore"]),
        // Servers as Services: a small HTTP/1.1 server (management API, admin port, the demo's
        // web service) and a gRPC server wrapper, for the controller and the CLI alike.
        .target(
            name: "WeftServing",
            dependencies: [
                "WeftCore",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The test kit: a test CA minting certificates at run time, a manual clock, a seeded
        // random source, processes, and the store conformance suite. For test targets only.
        .target(
            name: "WeftTesting",
            dependencies: [
                "WeftAPI",
                "WeftCore",
                "WeftStore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // What crosses a process boundary: the proxy API, the transport header, the resource kinds.
        .target(
            name: "WeftAPI",
            dependencies: [
                "WeftCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The data plane: listeners, detection, forwarding, admin and metrics.
        .target(
            name: "WeftProxy",
            dependencies: [
                "WeftCore",
                "WeftPolicy",
                "WeftIdentity",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCertificateReloading", package: "swift-nio-extras"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "weft-proxy", dependencies: ["WeftProxy"]),
        // Allocations per operation of the proxy's detection and decisions, under the
        // malloc-counting preload of the allocation checks (tests/integration/test_allocations.py).
        .executableTarget(
            name: "weft-microbench",
            dependencies: ["WeftProxy", "WeftPolicy", "WeftTesting", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // Trust material, certificate issuance and bootstrap tokens.
        .target(
            name: "WeftIdentity",
            dependencies: [
                "WeftCore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // The control plane: the resource store, its management API, and the identity,
        // destination and policy services.
        .target(
            name: "WeftController",
            dependencies: [
                "WeftAPI",
                "WeftCore",
                "WeftServing",
                "WeftPolicy",
                "WeftStore",
                "WeftIdentity",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "weft-controller",
            dependencies: [
                "WeftController",
                "WeftCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The `weft` commands.
        .target(
            name: "WeftCLI",
            dependencies: [
                "WeftAPI",
                "WeftCore",
                "WeftServing",
                "WeftIdentity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "weft", dependencies: ["WeftCLI"]),
        .testTarget(name: "WeftControllerTests", dependencies: ["WeftController", "WeftAPI", "WeftStore", "WeftTesting"]),
        .testTarget(name: "WeftPolicyTests", dependencies: ["WeftPolicy", "WeftTesting"]),
        .testTarget(name: "WeftCoreTests", dependencies: ["WeftCore"]),
        .testTarget(name: "WeftCLITests", dependencies: ["WeftCLI"]),
        .testTarget(name: "WeftIdentityTests", dependencies: ["WeftIdentity", "WeftTesting"]),
        .testTarget(
            name: "WeftProxyTests",
            dependencies: [
                "WeftProxy",
                "WeftPolicy",
                "WeftIdentity",
                // The controller's messages, as it sends them, are decoded by the proxy's own wire code.
                "WeftController",
                "WeftAPI",
                "WeftTesting",
                "weft-proxy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "WeftAPITests",
            dependencies: [
                "WeftAPI",
                "WeftIdentity",
                "WeftTesting",
                "weft",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Fixtures", "wire"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
