// swift-tools-version: 6.1
import PackageDescription

// Dependency direction: RepriseCore <- RepriseStorage (repository protocols, engine-free) <-
// {RepriseSQLite (GRDB), RepriseHTTP <- {RepriseAmpache, RepriseSubsonic, RepriseWeb}, ReprisePlayback} <- RepriseServer (composition
// root: picks RepriseSQLite) <- reprise (executable); LuaHost <- ReprisePlugins (policy plugins, plugin
// files) <- ReprisePlayback (backends). The APIs drive players through RepriseCore's `PlayerControl`;
// ReprisePlayback knows no HTTP. RepriseCore imports no web, SQL or Lua library; only RepriseSQLite and
// the composition root import GRDB (LayoutTests checks it).
let package = Package(
    name: "reprise",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "reprise", targets: ["reprise"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-configuration", exact: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", exact: "2.5.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", exact: "2.1.1"),
    ],
    targets: [
        // A lock ThreadSanitizer understands (Synchronization.Mutex's futex is invisible to it); no dependencies.
        .target(name: "RepriseSync"),
        // Domain: sessions, tokens, expiry and GC decisions, clocks, errors. No I/O libraries.
        .target(
            name: "RepriseCore",
            dependencies: [
                "RepriseSync",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Lua 5.4 from Debian's liblua5.4-dev, and a C shim for macros and lua_error trampolines.
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .target(name: "CLuaShim", dependencies: ["CLua"]),
        // Sandboxed Lua VMs, budgets, value conversion, host-function registry. Knows nothing of media.
        .target(name: "LuaHost", dependencies: ["CLuaShim", "RepriseSync"]),
        // RFC 9110 byte ranges and validators (ETag, dates, conditional requests); framework-free.
        .target(name: "HTTPRanges"),
        // TagLib's C API from Debian's libtagc0-dev.
        .systemLibrary(name: "CTagLib", pkgConfig: "taglib_c", providers: [.apt(["libtagc0-dev"])]),
        // C++ shim over TagLib for what its 1.x C API lacks (album artist, disc, ms length, file kind).
        .target(name: "CTagLibShim", dependencies: ["CTagLib"]),
        // libvips from Debian's libvips-dev (fast, low-memory, thread-safe scaling), with a small C shim.
        .systemLibrary(name: "CVips", pkgConfig: "vips", providers: [.apt(["libvips-dev"])]),
        .target(name: "CVipsShim", dependencies: ["CVips"]),
        // Reading tags and walking music folders; the scan's pure planning.
        .target(name: "RepriseCatalog", dependencies: ["CTagLib", "CTagLibShim"]),
        // libmpdclient from Debian's libmpdclient-dev, with a small header shim.
        .systemLibrary(name: "CMPDClient", pkgConfig: "libmpdclient", providers: [.apt(["libmpdclient-dev"])]),
        // MPD client: one connection per dedicated thread, async API, typed errors.
        .target(name: "MPDClient", dependencies: ["CMPDClient", "RepriseSync"]),
        // Layered configuration: CLI flags > REPRISE_* environment > YAML file > defaults.
        .target(
            name: "RepriseConfig",
            dependencies: [
                "RepriseCore",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // What the APIs and players need of storage, as protocols over domain types; the stream ledger. No engine.
        .target(
            name: "RepriseStorage",
            dependencies: [
                "RepriseCore", "RepriseSync",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // RepriseStorage on SQLite through GRDB: schema and migrations, stores, GC and its service.
        .target(
            name: "RepriseSQLite",
            dependencies: [
                "RepriseCore",
                "RepriseStorage",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // HTTP API on Hummingbird.
        .target(
            name: "RepriseHTTP",
            dependencies: [
                "RepriseCore",
                "RepriseStorage",
                "RepriseSync",
                "HTTPRanges",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Lua plugins as Reprise policies: token policy, expiry rules, events, backends.
        .target(name: "ReprisePlugins", dependencies: ["RepriseCore", "LuaHost", .product(name: "Logging", package: "swift-log")]),
        // Players: Lua backends (MPD, VLC over HTTP), their host modules, the supervisor; no HTTP API.
        .target(
            name: "ReprisePlayback",
            dependencies: [
                "RepriseCore", "RepriseStorage", "ReprisePlugins", "LuaHost", "MPDClient",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Ampache API (JSON and XML) and its /play URLs over the stores, the stream endpoint and PlayerControl.
        .target(name: "RepriseAmpache", dependencies: ["RepriseCore", "RepriseStorage", "RepriseHTTP", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Crypto", package: "swift-crypto")]),
        // Cover art: where it is (embedded or a folder image), scaled with libvips, cached on disk.
        .target(name: "RepriseArt", dependencies: ["RepriseCore", "RepriseStorage", "RepriseCatalog", "RepriseSync", "CVipsShim", .product(name: "Logging", package: "swift-log")]),
        // Subsonic 1.16.1 and OpenSubsonic (/rest/*) over the stores, the stream endpoint and the art service.
        .target(name: "RepriseSubsonic", dependencies: ["RepriseCore", "RepriseStorage", "RepriseHTTP", "RepriseCatalog", "RepriseSync", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Crypto", package: "swift-crypto")]),
        // The web UI: server-rendered pages (Mustache templates and assets shipped as resources) over cookie sessions.
        .target(
            name: "RepriseWeb",
            dependencies: [
                "RepriseCore", "RepriseStorage", "RepriseHTTP", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources/templates"), .copy("Resources/static")]
        ),
        // Wiring: builds stores, plugins, catalog and services from settings.
        .target(
            name: "RepriseServer",
            dependencies: [
                "RepriseCore",
                "RepriseConfig",
                "RepriseStorage",
                "RepriseSQLite",
                "RepriseHTTP",
                "RepriseCatalog",
                "ReprisePlugins",
                "RepriseAmpache",
                "RepriseArt",
                "RepriseSubsonic",
                "RepriseWeb",
                "ReprisePlayback",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            // docs/openapi.yaml links here.
            resources: [.copy("Resources/openapi.yaml")]
        ),
        // The `reprise` command.
        .executableTarget(
            name: "reprise",
            dependencies: [
                "RepriseCore",
                "RepriseConfig",
                "RepriseSQLite",
                "RepriseServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Fuzz targets over the parsers that read outside bytes; `make fuzz` builds `reprise-fuzz` with libFuzzer.
        .target(name: "RepriseFuzz", dependencies: ["HTTPRanges", "RepriseCore", "RepriseConfig", "RepriseHTTP", "RepriseAmpache", "RepriseServer"]),
        // Without -DFUZZING a corpus replayer; with it (make fuzz), libFuzzer's entry point.
        .executableTarget(name: "reprise-fuzz", dependencies: ["RepriseFuzz"]),
        .testTarget(name: "FuzzCorpusTests", dependencies: ["RepriseFuzz"]),
        .testTarget(name: "RepriseCoreTests", dependencies: ["RepriseCore"]),
        .testTarget(name: "LuaHostTests", dependencies: ["LuaHost", "TestSupport"]),
        .testTarget(name: "HTTPRangesTests", dependencies: ["HTTPRanges"]),
        .testTarget(name: "RepriseCatalogTests", dependencies: ["RepriseCatalog", "RepriseCore", "TestSupport"]),
        .testTarget(name: "RepriseArtTests", dependencies: ["RepriseArt", "RepriseCatalog", "RepriseCore", "RepriseSQLite", "RepriseStorage", "TestSupport", .product(name: "Logging", package: "swift-log")]),
        // Test helpers shared by every test target: child processes (spawned without leaking descriptors,
        // awaited off the cooperative pool), temporary folders, sox tones, captured logs.
        .target(name: "TestSupport", dependencies: ["RepriseSync", .product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport"),
        // A private Debian mpd for tests, shared by the test targets that need a real player.
        .target(name: "MPDTestSupport", dependencies: ["TestSupport", "RepriseSync"], path: "Tests/MPDTestSupport"),
        .testTarget(name: "MPDClientTests", dependencies: ["MPDClient", "MPDTestSupport", "TestSupport"]),
        .testTarget(name: "RepriseConfigTests", dependencies: ["RepriseConfig", "TestSupport"]),
        .testTarget(name: "RepriseStorageTests", dependencies: ["RepriseStorage", "RepriseCore", "RepriseSync"]),
        .testTarget(
            name: "RepriseSQLiteTests",
            dependencies: [
                "RepriseSQLite",
                "RepriseStorage",
                "TestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "RepriseHTTPTests",
            dependencies: [
                "RepriseHTTP",
                "RepriseSQLite",
                "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "ReprisePluginsTests", dependencies: ["ReprisePlugins", "RepriseCore", "LuaHost", "TestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "ReprisePlaybackTests",
            dependencies: ["ReprisePlayback", "RepriseStorage", "RepriseSQLite", "RepriseServer", "MPDClient", "MPDTestSupport", "TestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")]
        ),
        .testTarget(
            name: "RepriseServerTests",
            dependencies: [
                "RepriseServer",
                "RepriseStorage",
                "RepriseSubsonic",
                "RepriseSync",
                "RepriseWeb",
                "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(name: "RepriseCLITests", dependencies: ["MPDTestSupport", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
