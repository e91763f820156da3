import Foundation
import ServiceKinds
import ServiceModel
import Synchronization
import Testing

/// An in-memory provisioner: the seam's test double. It reports a scripted sequence of states
/// after provision/deprovision, and counts calls.
final class FakeProvisioner: ServiceProvisioner {
    struct State {
        var afterStart: [(ServiceState, String)] = [(.active, "")]
        var afterStop: [(ServiceState, String)] = [(.inactive, "")]
        var script: [(ServiceState, String)] = []
        var current: (ServiceState, String) = (.inactive, "service is not running")
        var provisions = 0
        var deprovisions = 0
        var forced = false
        var checks = 0
        var waits: [ContinuousClock.Instant] = []
    }
    let state = Mutex(State())
    let failProvision: Bool

    init(afterStart: [(ServiceState, String)] = [(.active, "")], afterStop: [(ServiceState, String)] = [(.inactive, "")], failProvision: Bool = false) {
        state.withLock {
            $0.afterStart = afterStart
            $0.afterStop = afterStop
        }
        self.failProvision = failProvision
    }

    struct Refused: Error, CustomStringConvertible { var description: String { "unit refused to start" } }

    func provision(_ service: Service) async throws {
        if failProvision { throw Refused() }
        state.withLock {
            $0.provisions += 1
            $0.script = $0.afterStart
        }
    }

    func deprovision(_ service: Service, force: Bool) async throws {
        state.withLock {
            $0.deprovisions += 1
            $0.forced = force
            $0.script = $0.afterStop
        }
    }

    func checkStatus(_ service: Service) async -> (ServiceState, String) {
        state.withLock {
            $0.checks += 1
            if !$0.script.isEmpty { $0.current = $0.script.removeFirst() }
            return $0.current
        }
    }

    func waitForChange(_ service: Service, deadline: ContinuousClock.Instant, since: ContinuousClock.Instant) async {
        state.withLock { $0.waits.append(since) }
        await Backoff.sleep(since: since, until: deadline)
    }
}

/// A health checker with a fixed answer that counts calls.
final class FakeHealth: EndpointHealthChecker {
    let answer: Mutex<(ServiceState, String)>
    let calls = Mutex(0)
    init(_ answer: (ServiceState, String) = (.active, "")) { self.answer = Mutex(answer) }
    func checkEndpoint(_ endpoint: ServiceEndpoint, monitor: HealthMonitorSpec) async -> (ServiceState, String) {
        calls.withLock { $0 += 1 }
        return answer.withLock { $0 }
    }
}

@Suite("Lifecycle contract")
struct LifecycleTests {
    static func service(endpoint: ServiceEndpoint? = ServiceEndpoint(config: ServiceEndpointConfig(protocol: .http, port: TCPPort(9100)), monitor: .http())) -> Service {
        Service(ServiceDocument(kind: SleepingDaemon.self, config: LocalDaemonServiceConfig(flavor: SleepingDaemon.Config(wakeUpAfter: 1)), endpoint: endpoint))
    }
    static let freePorts = PortPolicy(scanRange: 9100...9110) { _ in true }
    /// The timeout of a start or stop whose outcome is not a timeout: only a broken build meets it.
    /// A short one failed on a loaded run, whose cooperative pool was busy for 30 s and more.
    static let unbounded: Duration = .seconds(600)

    @Test func startWaitsUntilActiveAndEndpointHealthy() async throws {
        let provisioner = FakeProvisioner(afterStart: [(.pendingStartup, ""), (.pendingStartup, ""), (.active, "")])
        let lifecycle = ServiceLifecycle(provisioner: provisioner, healthChecker: FakeHealth(), portPolicy: Self.freePorts)
        let service = Self.service()
        try await lifecycle.start(service, timeout: Self.unbounded)
        let document = service.document
        #expect(document.adminState == .active)
        #expect(document.endpoint?.adminState == .active)
        #expect(document.status.state == .active)
        #expect(document.status.lastState == .pendingStartup)
        #expect(document.endpoint?.status.uri == "http://localhost:9100/")
        // Two waits, both paced from the start of the one wait for the admin state.
        let waits = provisioner.state.withLock { $0.waits }
        #expect(waits.count == 2 && Set(waits).count == 1, "\(waits)")
        #expect(await lifecycle.isRunning(service))
    }

    @Test func startFailureCarriesLastStateAndLastError() async throws {
        let provisioner = FakeProvisioner(afterStart: [(.pendingStartup, ""), (.error, "exited with status 3")])
        let lifecycle = ServiceLifecycle(provisioner: provisioner, healthChecker: FakeHealth(), portPolicy: Self.freePorts)
        let service = Self.service()
        let error = try #require(await modelError { try await lifecycle.start(service, timeout: Self.unbounded) })
        #expect(error.code == .startFailed)
        // The service by name and short UUID, and what happened; the same facts as fields.
        #expect(error.message == "\(service.document.config.name) (\(service.uuid.short)) failed to start: exited with status 3")
        #expect(error.failure == ServiceFailure(name: service.document.config.name, uuid: service.uuid, operation: "start",
                                                reason: "exited with status 3"))
        #expect(!error.message.contains("SleepingDaemon["), "no ZenML repr: \(error.message)")
        #expect(await lifecycle.isFailed(service))
    }

    @Test func startTimesOutWithTheDeadlineInTheMessage() async throws {
        let provisioner = FakeProvisioner(afterStart: [(.pendingStartup, "waiting for socket")])
        let lifecycle = ServiceLifecycle(provisioner: provisioner, healthChecker: FakeHealth(), portPolicy: Self.freePorts)
        let service = Self.service()
        let clock = ContinuousClock()
        let started = clock.now
        let error = try #require(await modelError { try await lifecycle.start(service, timeout: .milliseconds(300)) })
        let elapsed = clock.now - started
        #expect(error.code == .timedOut)
        #expect(error.message.contains("timed out after 0.3 s"))
        #expect(error.message.contains("pending_startup"))
        #expect(error.message.contains("waiting for socket"))
        // The deadline is the behaviour: not before it. The spacing of the checks is pinned by
        // `checksArePacedByTheTimeWaited`; the check count here says "no busy loop" (1 ms apart for
        // the first 25 ms, then a twenty-fifth of the time waited: about 90 in 300 ms at most).
        #expect(elapsed >= .milliseconds(300), "waited for the deadline")
        #expect((1..<120).contains(provisioner.state.withLock { $0.checks }))
    }

    @Test func unhealthyEndpointKeepsStartWaitingAndIsReported() async throws {
        let health = FakeHealth((.error, "HTTP healthcheck GET http://localhost:9100/: connection refused"))
        let lifecycle = ServiceLifecycle(provisioner: FakeProvisioner(), healthChecker: health, portPolicy: Self.freePorts)
        let service = Self.service()
        let error = try #require(await modelError { try await lifecycle.start(service, timeout: .milliseconds(100)) })
        #expect(error.code == .timedOut)
        #expect(error.message.contains("connection refused"))
        #expect(await lifecycle.isRunning(service) == false)
        health.answer.withLock { $0 = (.active, "") }
        #expect(await lifecycle.isRunning(service))
    }

    @Test func endpointWithoutMonitorFollowsItsAdminState() async throws {
        let health = FakeHealth((.error, "never asked"))
        let lifecycle = ServiceLifecycle(provisioner: FakeProvisioner(), healthChecker: health, portPolicy: Self.freePorts)
        let service = Self.service(endpoint: ServiceEndpoint(config: ServiceEndpointConfig(protocol: .tcp)))
        try await lifecycle.start(service, timeout: Self.unbounded)
        #expect(service.document.endpoint?.status.state == .active)
        #expect(health.calls.withLock { $0 } == 0)
    }

    @Test func updateStatusSkipsEndpointChecksWhenInactive() async {
        let health = FakeHealth()
        let lifecycle = ServiceLifecycle(provisioner: FakeProvisioner(), healthChecker: health, portPolicy: Self.freePorts)
        let service = Self.service()
        await lifecycle.updateStatus(service)
        #expect(health.calls.withLock { $0 } == 0)
        #expect(await lifecycle.isStopped(service))
        #expect(service.document.status.lastError == "service is not running")
    }

    @Test func stopWaitsUntilInactiveAndPassesForce() async throws {
        let provisioner = FakeProvisioner(afterStop: [(.pendingShutdown, ""), (.inactive, "")])
        let lifecycle = ServiceLifecycle(provisioner: provisioner, healthChecker: FakeHealth(), portPolicy: Self.freePorts)
        let service = Self.service()
        try await lifecycle.start(service, timeout: Self.unbounded)
        try await lifecycle.stop(service, timeout: Self.unbounded, force: true)
        #expect(service.document.adminState == .inactive)
        #expect(service.document.endpoint?.adminState == .inactive)
        #expect(service.document.status.state == .inactive)
        #expect(provisioner.state.withLock { $0.forced })
    }

    @Test func stopThatEndsInErrorFails() async throws {
        let provisioner = FakeProvisioner(afterStop: [(.error, "could not kill process 42")])
        let lifecycle = ServiceLifecycle(provisioner: provisioner, healthChecker: FakeHealth(), portPolicy: Self.freePorts)
        let error = try #require(await modelError { try await lifecycle.stop(Self.service(), timeout: Self.unbounded) })
        #expect(error.code == .stopFailed)
        #expect(error.message.contains("could not kill process 42"))
    }

    @Test func provisioningErrorsAreWrapped() async throws {
        let lifecycle = ServiceLifecycle(provisioner: FakeProvisioner(failProvision: true), healthChecker: FakeHealth(), portPolicy: Self.freePorts)
        let error = try #require(await modelError { try await lifecycle.start(Self.service(), timeout: Self.unbounded) })
        #expect(error.code == .provisioningFailed)
        #expect(error.message.contains("unit refused to start"))
        #expect(error.cause is FakeProvisioner.Refused)
    }

    @Test func busyPortWithoutAllocationFailsTheStartBeforeProvisioning() async throws {
        let provisioner = FakeProvisioner()
        let busy = PortPolicy(scanRange: 9100...9110) { _ in false }
        let lifecycle = ServiceLifecycle(provisioner: provisioner, healthChecker: FakeHealth(), portPolicy: busy)
        let service = Self.service(endpoint: ServiceEndpoint(config: ServiceEndpointConfig(protocol: .http, port: TCPPort(9100), allocatePort: false)))
        let error = try #require(await modelError { try await lifecycle.start(service, timeout: Self.unbounded) })
        #expect(error.code == .portUnavailable)
        #expect(error.message.contains("9100"))
        #expect(provisioner.state.withLock { $0.provisions } == 0)
    }

    /// A start that meets a run already under way (a killed `start`'s, whose server has just taken
    /// its port) keeps the port that run uses; without a run it chooses again. Found in CI: the
    /// rerun saw its own service's port taken, chose 8002 and probed that until its timeout.
    @Test func aRunInProgressKeepsItsPort() async throws {
        // Only 9105 is free: 9100, the port the run uses, looks taken (by that run's server).
        let lifecycle = ServiceLifecycle(provisioner: FakeProvisioner(afterStart: [(.active, "")]), healthChecker: FakeHealth(),
                                         portPolicy: PortPolicy(scanRange: 9100...9110) { $0.value == 9105 })
        let running = Self.service(endpoint: ServiceEndpoint(config: ServiceEndpointConfig(protocol: .http, port: TCPPort(9100)), monitor: .http()))
        running.update { $0.endpoint?.status.port = TCPPort(9100) }
        try await lifecycle.start(running, timeout: Self.unbounded, runInProgress: true)
        #expect(running.document.endpoint?.status.port == TCPPort(9100), "the run's own port, though it looks taken")

        let fresh = Self.service(endpoint: ServiceEndpoint(config: ServiceEndpointConfig(protocol: .http, port: TCPPort(9100)), monitor: .http()))
        fresh.update { $0.endpoint?.status.port = TCPPort(9100) }
        let again = ServiceLifecycle(provisioner: FakeProvisioner(afterStart: [(.active, "")]), healthChecker: FakeHealth(),
                                     portPolicy: PortPolicy(scanRange: 9100...9110) { $0.value == 9105 })
        try await again.start(fresh, timeout: Self.unbounded)
        #expect(fresh.document.endpoint?.status.port == TCPPort(9105), "no run: the first free port")
    }

    /// Checks are paced by the time waited: a twenty-fifth of it, from 1 ms up to 20 ms.
    @Test func checksArePacedByTheTimeWaited() {
        let paces = [0, 10, 50, 100, 250, 500, 1_000, 30_000].map { Backoff.delay(after: .milliseconds($0)) }
        #expect(paces == [1, 1, 2, 4, 10, 20, 20, 20].map { Duration.milliseconds($0) })
    }

    /// Probes of a wait that reads nothing else are paced tighter: a two-hundredth of the time
    /// waited, from 0.5 ms up to the same 20 ms.
    @Test func probesArePacedByATwoHundredthOfTheTimeWaited() {
        let paces = [0, 10, 50, 100, 250, 1_000, 4_000, 30_000].map { Backoff.probeDelay(after: .milliseconds($0)) }
        #expect(paces == [500, 500, 500, 500, 1_250, 5_000, 20_000, 20_000].map { Duration.microseconds($0) })
    }
}
