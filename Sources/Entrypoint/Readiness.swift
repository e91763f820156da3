import FoundationEssentials
import OSCalls
import SDDaemon
import ServiceHealth
import ServiceKinds
import ServiceModel

/// Readiness for `Type=notify` units (the svcunit@ template): the service counts as started only
/// once its endpoint's health monitor passes, so a plain `systemctl --user start svcunit@UUID`
/// blocks until the service is healthy.
enum Readiness {
    /// Chooses the endpoint's port (as `svcunit start` would) and records it in the JSON, since no
    /// svcunit process takes part when systemd starts the template instance by itself.
    static func prepareEndpoint(_ document: ServiceDocument, configFile: String, registry: ServiceRegistry) -> ServiceDocument {
        guard document.endpoint != nil else { return document }
        let directory = URL(fileURLWithPath: configFile).deletingLastPathComponent()
        do {
            let store = try ServiceStore(root: directory.deletingLastPathComponent().path, create: false)
            return try store.withLock(document.uuid) {
                let service = try store.load(document.uuid, with: registry)
                try service.update { (d: inout ServiceDocument) throws(ServiceModelError) in
                    d.adminState = .active
                    d.endpoint?.adminState = .active
                    try d.endpoint?.prepareForStart(portPolicy: PortPolicy())
                }
                try store.save(service)
                return service.document
            }
        } catch {
            fail("cannot prepare the endpoint of \(document.uuid): \(error)", EntrypointExit.failed)
        }
    }

    /// This binary's path, for its helpers.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Starts the short-lived readiness helper (this binary with `entrypoint --await-ready`) as this
    /// process's sibling: the command this process becomes next would never reap a child.
    static func spawnHelper(configFile: String) {
        let me = executable
        let argv = [me, "entrypoint", "--await-ready", "--config-file", configFile]
        do { _ = try ProcessID.spawnSibling(argv) } catch {
            fail("cannot start the readiness helper: \(error.text)", EntrypointExit.failed)
        }
    }

    /// Probes the endpoint with a short backoff until it is healthy, updating `STATUS=` while it
    /// waits, then sends `READY=1`. systemd's `TimeoutStartSec=` bounds the wait.
    static func awaitHealthyThenNotify(_ document: ServiceDocument) async {
        guard let endpoint = document.endpoint, let monitor = endpoint.monitor else {
            Notifier.ready(status: "running (no health monitor)")
            return
        }
        let checker = ProbingHealthChecker()
        let target = endpoint.status.uri ?? "the endpoint"
        let since = ContinuousClock.now
        var lastMessage = ""
        while true {
            let (state, message) = await checker.checkEndpoint(endpoint, monitor: monitor)
            if state == .active {
                Notifier.ready(status: "healthy: \(target) passes its \(monitor.summary)")
                return
            }
            if message != lastMessage {
                Notifier.status("waiting for \(target) to become healthy: \(message)")
                lastMessage = message
            }
            try? await Task.sleep(for: Backoff.probeDelay(after: .now - since))
        }
    }
}
