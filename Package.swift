// swift-tools-version:6.1
//
// svcunit: run ZenML-style local daemon services as systemd user units.
//
// Dependency direction (an arrow reads "is used by"; nothing points back down):
//   CSystemd ─► SDBus ─► SystemdManager ─┐
//           └─► SDJournal ───────────────┤
//   ServiceModel ─► ServiceHealth ───────┴─► SystemdProvisioning ─► SvcUnitCLI ─► svcunit
//   ServiceModel (+ ServiceKinds) ───────────────────────────────────────────────► svcunit-entrypoint
import PackageDescription

let package = Package(
    name: "svcunit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SDBus", targets: ["SDBus"]),
        .library(name: "SDJournal", targets: ["SDJournal"]),
        .library(name: "SystemdManager", targets: ["SystemdManager"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // The C boundary: libsystemd's headers through pkg-config. Only SDBus and SDJournal import it.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(name: "SDBus", dependencies: ["CSystemd"]),
        .target(name: "SDJournal", dependencies: ["CSystemd"]),
        .target(name: "SystemdManager", dependencies: ["SDBus"]),
        .target(name: "SystemdTestSupport", dependencies: ["SDBus", "SystemdManager"]),

        .testTarget(name: "SDBusTests", dependencies: ["SDBus", "SystemdManager", "SystemdTestSupport"]),
        .testTarget(name: "SDJournalTests", dependencies: ["SDJournal", "SystemdManager", "SystemdTestSupport"]),
        .testTarget(name: "SystemdManagerTests", dependencies: ["SystemdManager", "SDBus", "SystemdTestSupport"]),
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
