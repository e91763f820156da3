// swift-tools-version:6.1
//
// svcunit: run ZenML-style local daemon services as systemd user units.
//
// Dependency direction (an arrow reads "is used by"; nothing points back down):
//   CSystemd ─► SDBus ─► SystemdManager ─┐
//           └─► SDJournal ───────────────┤
//   swift-system, COSCalls ─► OSCalls ─► every module above (the only one besides the wrappers that calls libc)
//   ServiceModel ─► ServiceHealth ───────┴─► SystemdProvisioning ─► SvcUnitCLI ─► svcunit
//   ServiceModel (+ ServiceKinds, ServiceHealth) ─► Entrypoint ─► svcunit (`svcunit entrypoint`, what units run)
import PackageDescription

// Release builds (the Debian package, scripts/bench) lay the executable out for a small resident set
// (BENCHMARKS.md, "Peak RSS"). Every function gets its own section, and lld puts the functions the
// commands run first, together (packaging/hot-code.order, written by scripts/hot-code-order): the
// kernel maps 64 KiB around each page a process touches, so scattered hot code costs megabytes.
// Relative relocations are packed (DT_RELR, glibc 2.36: 1 MB of .rela.dyn the loader read becomes
// 8 KB); no symbol is exported (the Swift driver exports every public one; nothing loads them, and
// the loader's dladdr at start-up walks them all); the C++ runtime is linked statically
// (packaging/link/libstdc++.so says how).
let releaseOnLinux = BuildSettingCondition.when(platforms: [.linux], configuration: .release)
let sectioned: [SwiftSetting] = [.unsafeFlags(["-Xfrontend", "-function-sections"], releaseOnLinux)]
let laidOut: [LinkerSetting] = [.unsafeFlags([
    "-use-ld=lld",
    "-L", "\(Context.packageDirectory)/packaging/link",
    "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/packaging/hot-code.order",
    "-Xlinker", "--no-warn-symbol-ordering",
    "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
    "-Xlinker", "--no-export-dynamic",
], releaseOnLinux)]

let package = Package(
    name: "svcunit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SDBus", targets: ["SDBus"]),
        .library(name: "SDJournal", targets: ["SDJournal"]),
        .library(name: "SystemdManager", targets: ["SystemdManager"]),
        .library(name: "ServiceModel", targets: ["ServiceModel"]),
        .library(name: "SystemdProvisioning", targets: ["SystemdProvisioning"]),
        .executable(name: "svcunit", targets: ["svcunit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // The C boundary: libsystemd's headers (libsystemd-dev), and libsystemd.so.0 opened the first
        // time a command calls it, never linked. Only SDBus, SDJournal and SDDaemon import it.
        .target(name: "CSystemd"),
        // The operating system, once: swift-system's FileDescriptor, FilePath and Errno for files, and
        // thin typed wrappers of the C library calls it lacks (flock, processes, signals, clocks,
        // sockets, OpenSSL by dlopen). No module above it and the libsystemd wrappers imports Glibc.
        .target(name: "OSCalls", dependencies: ["COSCalls", .product(name: "SystemPackage", package: "swift-system")], swiftSettings: sectioned),
        // What must run in C for OSCalls: between a clone and an exec no Swift code may run.
        .target(name: "COSCalls"),
        // The thread that owns an sd-bus or sd-journal object, written once for both wrappers.
        .target(name: "SDWorker", dependencies: ["OSCalls"], swiftSettings: sectioned),
        // swift-log, bootstrapped once per executable: --verbose / SVCUNIT_LOG_LEVEL (silent by default).
        .target(name: "Diagnostics", dependencies: [.product(name: "Logging", package: "swift-log")], swiftSettings: sectioned),
        .target(name: "SDBus", dependencies: ["CSystemd", "SDWorker", "OSCalls", "Diagnostics", .product(name: "Logging", package: "swift-log")], swiftSettings: sectioned),
        .target(name: "SDJournal", dependencies: ["CSystemd", "SDWorker", "OSCalls", "Diagnostics", .product(name: "Logging", package: "swift-log")], swiftSettings: sectioned),
        // sd_notify only, for the entrypoint of Type=notify units.
        .target(name: "SDDaemon", dependencies: ["CSystemd"], swiftSettings: sectioned),
        .target(name: "SystemdManager", dependencies: ["SDBus", "OSCalls"], swiftSettings: sectioned),
        // The service model: pure Swift + FoundationEssentials, no systemd.
        .target(name: "ServiceModel", dependencies: ["OSCalls", .product(name: "SystemPackage", package: "swift-system")], swiftSettings: sectioned),
        .target(name: "ServiceHealth", dependencies: ["ServiceModel", "Diagnostics", "OSCalls", .product(name: "Logging", package: "swift-log")], swiftSettings: sectioned),
        .target(name: "ServiceKinds", dependencies: ["ServiceModel", "OSCalls", .product(name: "SystemPackage", package: "swift-system")], swiftSettings: sectioned),
        // Services on systemd: the model meets the sd-bus and sd-journal wrappers.
        .target(name: "SystemdProvisioning", dependencies: [
            "ServiceModel", "ServiceHealth", "SystemdManager", "SDJournal", "OSCalls",
        ], swiftSettings: sectioned),
        .target(name: "SvcUnitCLI", dependencies: [
            "ServiceModel", "ServiceKinds", "ServiceHealth", "SystemdProvisioning", "SystemdManager", "SDJournal", "Diagnostics", "OSCalls",
            .product(name: "SystemPackage", package: "swift-system"), .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: sectioned),
        // What units run (`svcunit entrypoint`): re-creates a service from its JSON and runs it; no sd-bus.
        .target(name: "Entrypoint", dependencies: [
            "ServiceModel", "ServiceKinds", "ServiceHealth", "SDDaemon", "Diagnostics", "OSCalls",
            .product(name: "SystemPackage", package: "swift-system"), .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: sectioned),
        // The one executable: the CLI, and the entrypoint as its hidden `entrypoint` subcommand.
        .executableTarget(name: "svcunit", dependencies: ["SvcUnitCLI", "Entrypoint"], swiftSettings: sectioned, linkerSettings: laidOut),
        // Test support, not product: finds the live user manager, names test units, runs witnesses.
        .target(name: "SystemdTestSupport", dependencies: ["SystemdManager", "OSCalls"], path: "Tests/SystemdTestSupport"),
        // Compiles against the public surface of the libsystemd wrappers only: no C type may leak.
        .testTarget(name: "APIBoundaryTests", dependencies: ["SDBus", "SDJournal", "SDDaemon"]),

        .testTarget(name: "OSCallsTests", dependencies: ["OSCalls", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(name: "SDBusTests", dependencies: ["SDBus", "SystemdManager", "SystemdTestSupport"]),
        .testTarget(name: "SDJournalTests", dependencies: ["SDJournal", "SystemdManager", "SystemdTestSupport"]),
        .testTarget(name: "SystemdManagerTests", dependencies: ["SystemdManager", "SDBus", "SystemdTestSupport"]),
        .testTarget(name: "ServiceModelTests", dependencies: ["ServiceModel", "ServiceKinds"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ServiceHealthTests", dependencies: ["ServiceHealth", "ServiceModel"]),
        // Test targets declare exactly the modules they import ("svcunit": the executable they run).
        .testTarget(name: "SvcUnitCLITests", dependencies: [
            "SvcUnitCLI", "Entrypoint", "ServiceModel", "SystemdManager", "SDJournal", "SystemdTestSupport", "svcunit",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ReliabilityTests", dependencies: [
            "SystemdProvisioning", "ServiceModel", "ServiceKinds", "ServiceHealth", "SvcUnitCLI", "SystemdManager", "SystemdTestSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            "svcunit",
        ]),
        // Issue 15: ZenML's own Python services, against the real zenml from PyPI (scripts/test installs it).
        .testTarget(name: "ZenMLServiceTests", dependencies: ["SystemdTestSupport", "svcunit"],
                    exclude: ["python"]),
        .testTarget(name: "SystemdProvisioningTests", dependencies: [
            "SystemdProvisioning", "ServiceModel", "ServiceKinds", "ServiceHealth", "SystemdManager", "SDBus", "SDJournal", "SystemdTestSupport",
            "svcunit",
        ]),
    ]
)

// One settings loop for every target (as swift-log does): Swift 6 mode and the upcoming features
// that keep the public surface honest.
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
