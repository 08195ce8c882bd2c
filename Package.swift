// swift-tools-version:6.0
import PackageDescription

// Data flow, one target per step: Extract -> Buffer -> Stores -> Agent -> lms-agent.
let package = Package(
    name: "lms-agent",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lms-agent", targets: ["lms-agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // `swift package generate-documentation --target X`: the DocC catalogs in Sources/X/X.docc.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // System-library shims: module maps only.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSLCrypto", path: "Sources/COpenSSLCrypto", providers: [.apt(["libssl-dev"])]),

        // `mkdir -p` with a mode: the one way folders are created.
        .target(name: "Folders"),
        // A small, typed wrapper over the SQLite C API, shared by the buffer and the SQLite LMS-DS.
        .target(name: "SQLiteDB", dependencies: ["CSQLite", "Folders"]),
        // A small wrapper over libpq: bind parameters, multi-statement batches, COPY.
        .target(name: "PostgresDB", dependencies: ["CLibPQ"]),
        // The extractor tree: paths, resource schemas, the streaming CSV reader and validation.
        .target(name: "Extract", dependencies: ["COpenSSLCrypto"]),
        // The local buffer: file ledger, staged rows, inspection queries.
        .target(name: "Buffer", dependencies: ["Extract", "SQLiteDB"]),
        // Target LMS data stores, their migrations and the generated merge SQL.
        .target(name: "Stores", dependencies: ["Extract", "SQLiteDB", "PostgresDB", "LMSSQLScripts"]),
        // Versioned schema scripts, one folder per engine (top-level sql/ in the repository).
        .target(name: "LMSSQLScripts", path: "sql", exclude: ["README.md"], resources: [.copy("sqlite"), .copy("postgresql")]),
        // A deterministic generator of realistic extractor trees, for trying the tool and for benchmarks.
        .target(name: "SampleExtract", dependencies: ["Extract", "Folders"]),
        // The pipeline: scan, stage, forward, and the commands' logic.
        .target(name: "Agent", dependencies: [
            "Extract", "Buffer", "Stores", "PostgresDB", "SQLiteDB",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "lms-agent", dependencies: [
            "Agent", "SampleExtract", "PostgresDB",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "ExtractTests", dependencies: ["Extract", "SampleExtract", "Folders"]),
        .testTarget(name: "AgentTests", dependencies: [
            "Agent", "Buffer", "Stores", "Extract", "SampleExtract", "SQLiteDB", "PostgresDB", "LMSSQLScripts",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
