// swift-tools-version: 6.2
import PackageDescription

// Dependencies point one way: ddrouter → Daemon → {Workflow, Contract, Store, AMQP}.
// Workflow and Contract depend on nothing but Foundation; AMQP is the only module that
// touches C (rabbitmq-c 0.11, Debian librabbitmq-dev), besides the executable's one call
// of glibc's mallopt (CMalloc) and the store's use of zlib (CZlib).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "ddrouter",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ddrouter", targets: ["ddrouter"]),
        .library(name: "AMQP", targets: ["AMQP"]),
        .library(name: "Workflow", targets: ["Workflow"]),
        .library(name: "Contract", targets: ["Contract"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: ["YAML"]),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        // Already in the graph through swift-configuration's YAML trait; named here because
        // check-config walks the file's tree to find unknown keys.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // Observability: metrics API, Prometheus exposition, the loopback HTTP endpoints.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Already in the graph through Hummingbird; named here because the daemon stops its
        // HTTP server through a ServiceGroup's graceful shutdown.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .target(
            name: "CRabbitMQShims",
            dependencies: ["CRabbitMQ"]
        ),
        // glibc's mallopt, for `ddrouter run`'s allocator settings (docs/performance.md, 4).
        .systemLibrary(name: "CMalloc"),
        // zlib, for the store's compressed case states and history (StoreBinary version 3).
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "AMQP",
            dependencies: [
                "CRabbitMQ",
                "CRabbitMQShims",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(name: "Workflow", swiftSettings: strict),
        .target(name: "Contract", swiftSettings: strict),
        .target(
            name: "Store",
            dependencies: [
                "CZlib",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Daemon",
            dependencies: [
                "AMQP", "Workflow", "Contract", "Store",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ddrouter",
            dependencies: [
                "AMQP", "Workflow", "Contract", "Daemon", "Store", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The benchmark driver of docs/performance.md (scripts/bench.sh, `make bench`).
        .executableTarget(
            name: "ddbench",
            dependencies: ["AMQP", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/ddbench",
            swiftSettings: strict
        ),
        .testTarget(name: "AMQPTests", dependencies: ["AMQP"], swiftSettings: strict),
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "Daemon", "AMQP", "Store", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "StoreTests",
            dependencies: [
                "Store", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .testTarget(name: "WorkflowTests", dependencies: ["Workflow"], swiftSettings: strict),
        .testTarget(
            name: "ContractTests", dependencies: ["Contract"],
            resources: [], swiftSettings: strict),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["AMQP", "Daemon", "Contract", "Store", "Workflow", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
