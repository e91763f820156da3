/// Starts, stops and observes services: ZenML's `BaseService` behaviour (admin state set by
/// start/stop, operational state observed through the provisioner, endpoints checked by health
/// monitors), as a value that holds its collaborators instead of a base class.
///
/// Not obvious: `isRunning`, `isStopped` and `isFailed` are async functions, not properties,
/// because each one first refreshes the status (I/O through the provisioner and the health
/// checker); and waiting is driven by `ServiceProvisioner.waitForChange`, never a fixed sleep.
public struct ServiceLifecycle: Sendable {
    public var provisioner: any ServiceProvisioner
    public var healthChecker: any EndpointHealthChecker
    public var portPolicy: PortPolicy

    public init(provisioner: any ServiceProvisioner, healthChecker: any EndpointHealthChecker, portPolicy: PortPolicy = PortPolicy()) {
        self.provisioner = provisioner
        self.healthChecker = healthChecker
        self.portPolicy = portPolicy
    }

    /// Observes the service (and, unless it is inactive, its endpoint) and records the result
    /// with `updateState` (ZenML's `update_status`).
    public func updateStatus(_ service: Service) async {
        let (state, message) = await provisioner.checkStatus(service)
        let snapshot = service.update { document in
            document.status.updateState(state, error: message)
            return document
        }
        // Don't bother checking the endpoint when the service is not running at all.
        guard snapshot.status.state != .inactive, let endpoint = snapshot.endpoint else { return }
        let (endpointState, endpointMessage): (ServiceState, String)
        if let monitor = endpoint.monitor {
            (endpointState, endpointMessage) = await healthChecker.checkEndpoint(endpoint, monitor: monitor)
        } else {
            // No monitor: assume the endpoint is in its admin state (ZenML's rule).
            (endpointState, endpointMessage) = (endpoint.adminState, "")
        }
        service.update { document in
            document.endpoint?.status.updateState(endpointState, error: endpointMessage)
        }
    }

    /// Refreshes the status; true when the service is active and its endpoint (if any) is healthy.
    public func isRunning(_ service: Service) async -> Bool {
        await updateStatus(service)
        return Self.running(service.document)
    }

    /// Refreshes the status; true when the service is inactive.
    public func isStopped(_ service: Service) async -> Bool {
        await updateStatus(service)
        return service.document.status.state == .inactive
    }

    /// Refreshes the status; true when the service is in the error state.
    public func isFailed(_ service: Service) async -> Bool {
        await updateStatus(service)
        return service.document.status.state == .error
    }

    static func running(_ document: ServiceDocument) -> Bool {
        document.status.state == .active && (document.endpoint.map { $0.status.state == .active } ?? true)
    }

    /// Sets the admin state to active, chooses the endpoint port, provisions the service and waits
    /// until it is running.
    /// - Parameter timeout: how long to wait; `.zero` checks once (ZenML raises if not running then).
    /// - Parameter runInProgress: a run of this service already began (its unit is active or
    ///   activating), so its endpoint keeps the port that run uses.
    /// - Throws: `.portUnavailable`/`.noFreePort` from port selection; `.provisioningFailed`;
    ///   `.startFailed` when the service enters the error state; `.timedOut` at the deadline. The
    ///   message carries the last state and last error.
    public func start(_ service: Service, timeout: Duration, runInProgress: Bool = false) async throws(ServiceModelError) {
        try service.update { (document: inout ServiceDocument) throws(ServiceModelError) in
            document.adminState = .active
            document.endpoint?.adminState = .active
            document.status.silentDaemon = document.config.silentDaemon
            try document.endpoint?.prepareForStart(portPolicy: portPolicy, keepingPort: runInProgress, for: service.uuid)
        }
        do {
            try await provisioner.provision(service)
        } catch {
            throw failure(service.document, code: .provisioningFailed, what: "start", reason: "\(error)", cause: error)
        }
        try await waitForAdminState(service, timeout: timeout)
    }

    /// Sets the admin state to inactive, deprovisions the service and waits until it is stopped.
    /// - Throws: `.provisioningFailed`; `.stopFailed` when it ends in the error state; `.timedOut`.
    public func stop(_ service: Service, timeout: Duration, force: Bool = false) async throws(ServiceModelError) {
        service.update { document in
            document.adminState = .inactive
            document.endpoint?.adminState = .inactive
        }
        do {
            try await provisioner.deprovision(service, force: force)
        } catch {
            throw failure(service.document, code: .provisioningFailed, what: "stop", reason: "\(error)", cause: error)
        }
        try await waitForAdminState(service, timeout: timeout)
    }

    /// Waits until the operational state matches the admin state, the service fails, or the deadline passes.
    public func waitForAdminState(_ service: Service, timeout: Duration) async throws(ServiceModelError) {
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = started + max(timeout, .zero)
        while true {
            await updateStatus(service)
            let document = service.document
            let wantActive = document.adminState == .active
            // The manager went away: what was observed is frozen, not the service's state. Say so
            // now instead of waiting out the deadline on a state that can no longer change.
            if let lost = provisioner.lostConnection {
                throw failure(document, code: .provisioningFailed, what: wantActive ? "start" : "stop", reason: "\(lost)", cause: lost)
            }
            if wantActive && Self.running(document) { return }
            if !wantActive && document.status.state == .inactive { return }
            if document.status.state == .error {
                throw failure(document, code: wantActive ? .startFailed : .stopFailed, what: wantActive ? "start" : "stop",
                              reason: document.status.lastError.isEmpty ? "it is in the error state" : document.status.lastError)
            }
            if clock.now >= deadline {
                throw failure(document, code: .timedOut, what: wantActive ? "start" : "stop",
                              reason: "timed out after \(Self.seconds(timeout)) s: " + stillText(document))
            }
            await provisioner.waitForChange(service, deadline: deadline, since: started)
        }
    }

    /// Where a wait that ran out stood: the endpoint that did not answer, or the state it stayed in.
    private func stillText(_ document: ServiceDocument) -> String {
        if let endpoint = document.endpoint, document.status.state == .active, endpoint.status.state != .active {
            var text = "endpoint \(endpoint.status.uri ?? endpoint.config.name) is not healthy"
            if !endpoint.status.lastError.isEmpty { text += ": \(endpoint.status.lastError)" }
            return text
        }
        var text = "still \(document.status.state)"
        // A start begins with no error (SystemdServices clears it), so one seen now is this start's; a
        // stop's document may hold an older one, which counts only when the stop ended in error.
        let current = document.adminState == .active || document.status.state == .error
        if current, !document.status.lastError.isEmpty { text += ": \(document.status.lastError)" }
        return text
    }

    /// `web (d761e1eb) failed to start: exited with status 7`, with the same facts as fields.
    private func failure(_ document: ServiceDocument, code: ServiceModelError.Code, what: String, reason: String,
                         cause: (any Error)? = nil) -> ServiceModelError {
        ServiceModelError(code, "\(document.label) failed to \(what): \(reason)", cause: cause,
                          failure: ServiceFailure(name: document.config.name, uuid: document.uuid, operation: what, reason: reason))
    }

    /// `5`, `0.5`, `2.25`: seconds without trailing zeros.
    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return JSONText.formatCompact(.number((value * 1000).rounded() / 1000))
    }
}
