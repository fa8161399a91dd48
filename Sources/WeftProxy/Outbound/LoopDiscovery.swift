import NIOCore
import WeftCore
import WeftPolicy

/// One event loop's view of discovery: for each service in use, its balancer over the endpoints
/// last published, the requests waiting for a first answer, and when it was last used. Lives on
/// its loop; requests read it without locks, and ``ServiceDiscovery`` writes it by
/// `execute`-ing updates on the loop.
final class LoopDiscovery {
    /// What a request does next.
    enum Resolution {
        case endpoint(BalancedEndpoint)
        /// Not known yet: try again when the future completes (at the first state, or the fail-fast timeout).
        case wait(EventLoopFuture<Void>)
        case failure(ProxyError)
    }

    /// A service in use. A class, so that a request updates it in place without writing the
    /// dictionary back.
    private final class Entry {
        var state: DiscoveryState?
        var balancer = EndpointBalancer()
        var waiters: [EventLoopPromise<Void>] = []
        /// Monotonic nanoseconds.
        var lastUsed: UInt64
        /// The profile's traffic split: requests go to these services, by weight.
        var split = WeightedDistribution<String>([])
        /// The outbound policy's routes: nil while none has come, `.some(nil)` when the service
        /// has no routes (no policy, or an opaque one).
        var routes: RouteTable??
        /// The series of each route of `routes`, by index, made on first use.
        var routeSeries: [Int: RouteSeries] = [:]
        /// The profile's routes (nil: none), and their `route_*` series by index (-1: unmatched).
        var profileRoutes: ProfileRoutes?
        var profileSeries: [Int: ProfileRouteSeries] = [:]
        /// The profile's retry budget on this loop.
        var budget: ProfileBudget?
        var policyWaiters: [EventLoopPromise<Void>] = []

        init(lastUsed: UInt64) {
            self.lastUsed = lastUsed
        }
    }

    /// The most names whose logical target is remembered; past that the memory starts again.
    static let maximumRememberedNames = 1_024

    let eventLoop: EventLoop
    private let discovery: ServiceDiscovery
    private var entries: [String: Entry] = [:]
    /// `logical(for:)`'s answers: a name is lowercased and checked against the suffixes once.
    private var logicalTargets: [ConnectionTarget: LogicalTarget?] = [:]
    private var sweep: Scheduled<Void>?
    private let idleTimeout: UInt64
    private let failFastTimeout: TimeAmount
    /// Where balancing decisions and idleness read the time.
    let clock: MonotonicClock
    /// The loop's draws: P2C's choices, weighted backends, injected failures.
    private var random = LoopRandom()

    init(eventLoop: EventLoop, discovery: ServiceDiscovery, clock: MonotonicClock) {
        self.eventLoop = eventLoop
        self.discovery = discovery
        self.clock = clock
        idleTimeout = UInt64(TimeAmount(discovery.configuration.idleTimeout).nanoseconds)
        failFastTimeout = TimeAmount(discovery.configuration.failFastTimeout)
    }

    /// Discover → logical: `target` as a service this proxy resolves by discovery, if it is one.
    /// An address (the original destination of a captured connection, or an IP a request names)
    /// is resolved too: the destination service knows workloads' and Services' cluster IPs; an
    /// address it does not know is forwarded as it is (``update(_:_:)``).
    func logical(for target: ConnectionTarget) -> LogicalTarget? {
        if let remembered = logicalTargets[target] { return remembered }
        let logical: LogicalTarget?
        switch target {
        case .address(let address):
            logical = address.port == nil ? nil : LogicalTarget(path: target.description)
        case .name(let host, let port):
            if let address = try? SocketAddress(ipAddress: host, port: Int(port)) {
                logical = LogicalTarget(path: ConnectionTarget.address(address).description)
            } else {
                logical = discovery.configuration.handles(host: host) ? LogicalTarget(path: DiscoveryConfiguration.path(host: host, port: port)) : nil
            }
        }
        if logicalTargets.count >= Self.maximumRememberedNames { logicalTargets.removeAll(keepingCapacity: true) }
        logicalTargets[target] = logical
        return logical
    }

    /// Logical → concrete: the backend for the next request to `logical` — one of its profile's
    /// split by weight (those services' own splits are not followed), else the service itself.
    func concrete(for logical: LogicalTarget) -> ConcreteTarget {
        guard let entry = entries[logical.path], !entry.split.isEmpty else { return ConcreteTarget(path: logical.path) }
        let split = entry.split
        entry.lastUsed = clock.now()
        return ConcreteTarget(path: split.draw(using: &random) ?? logical.path)
    }

    /// Route: the rule of `request` to `logical` and the backend it goes to, as
    /// ``RouteOutcome``. A profile's traffic split takes precedence over routes (as in Linkerd);
    /// without either the service itself is the backend. Until the service's first policy comes
    /// (or the fail-fast timeout passes) the request waits, once.
    func route<Request: RoutableRequest>(_ logical: LogicalTarget, _ request: Request, afterWaiting: Bool = false) -> RouteResolution {
        let now = clock.now()
        guard let entry = entries[logical.path] else {
            entries[logical.path] = Entry(lastUsed: now)
            startSweeping()
            discovery.subscribe(logical.path, loop: NIOLoopBound(self, eventLoop: eventLoop))
            return discovery.watchesPolicies && !afterWaiting ? .wait(waitForPolicy(logical.path)) : .decided(.forward(ConcreteTarget(path: logical.path), nil))
        }
        entry.lastUsed = now
        if !entry.split.isEmpty || entry.profileRoutes != nil {
            // A ServiceProfile with a split or routes takes precedence over the outbound policy.
            let concrete = ConcreteTarget(path: entry.split.draw(using: &random) ?? logical.path)
            return .decided(.forward(concrete, entry.profileRoutes.map { profileRouted(entry, logical, $0, request) }))
        }
        guard let routes = entry.routes else {
            if discovery.watchesPolicies && !afterWaiting { return .wait(waitForPolicy(logical.path)) }
            return .decided(.forward(ConcreteTarget(path: logical.path), nil))
        }
        guard let table = routes else { return .decided(.forward(ConcreteTarget(path: logical.path), nil)) }
        switch RouteOutcome.choose(table, request, using: &random) {
        case .failure(let answer):
            return .decided(.answer(answer))
        case .success(let (backend, selection)):
            let series: RouteSeries
            if let found = entry.routeSeries[selection.routeIndex] {
                series = found
            } else {
                series = RouteSeries(registry: discovery.registry, parent: table.parent, route: selection.route, isGRPC: table.isGRPC)
                entry.routeSeries[selection.routeIndex] = series
            }
            let (backendSeries, made) = series.backend(backend)
            if made { countEndpoints(of: backend, parent: table.parent, isGRPC: table.isGRPC) }
            backendSeries.requests.increment()
            return .decided(.forward(ConcreteTarget(path: backend.discoveryPath),
                                     RoutedRequest(selection: selection, route: series, backend: backendSeries)))
        }
    }

    /// Keeps `outbound_*_balancer_endpoints` of `backend` under `parent`: every endpoint discovery
    /// gives is ready (connections are made on demand), except those failure accrual keeps out,
    /// which are pending.
    private func countEndpoints(of backend: ClientPolicy.Backend, parent: ResourceReference, isGRPC: Bool) {
        let gauges = RouteSeries.balancerGauges(registry: discovery.registry, parent: parent, backend: backend.metadata, isGRPC: isGRPC)
        let path = backend.discoveryPath
        if entries[path] == nil {
            entries[path] = Entry(lastUsed: clock.now())
            discovery.subscribe(path, loop: NIOLoopBound(self, eventLoop: eventLoop))
        }
        guard let entry = entries[path], entry.balancer.health.gauges.count < RouteTable.maximumBackends else { return }
        entry.balancer.health.gauges.append(gauges)
        entry.balancer.health.showCounts()
    }

    /// A request under the profile's routes: the first that matches (or none) and its series.
    private func profileRouted<Request: RoutableRequest>(_ entry: Entry, _ logical: LogicalTarget, _ routes: ProfileRoutes,
                                                         _ request: Request) -> RoutedRequest {
        let index = routes.route(for: request)
        let series: ProfileRouteSeries
        if let found = entry.profileSeries[index ?? -1] {
            series = found
        } else {
            series = ProfileRouteSeries(registry: discovery.registry, destination: logical.path, route: index.map { routes.routes[$0].name })
            entry.profileSeries[index ?? -1] = series
        }
        series.requests.increment()
        let budget: ProfileBudget
        if let kept = entry.budget, kept.budget.settings == routes.budget {
            budget = kept
        } else {
            budget = ProfileBudget(routes.budget)
            entry.budget = budget
        }
        budget.budget.deposit(now: clock.now())
        return RoutedRequest(profileRoute: index.map { routes.routes[$0] }, series: series, budget: budget)
    }

    private func waitForPolicy(_ path: String) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        entries[path]?.policyWaiters.append(promise)
        eventLoop.assumeIsolated().scheduleTask(in: failFastTimeout) { promise.succeed() }
        return promise.futureResult
    }

    /// A new outbound policy for `path` from ``ServiceDiscovery``: the encoded policy, or nil
    /// when the service has none. A policy that cannot be used is refused whole: the routes in
    /// force stay, and why is logged and counted.
    func updatePolicy(_ path: String, _ bytes: [UInt8]?) {
        guard let entry = entries[path] else { return }
        if let bytes {
            do {
                let policy = try OutboundPolicyWire.decode(bytes)
                entry.routes = .some(try RouteTable(policy))
                entry.routeSeries = [:]
                entry.balancer.setAccrual(policy.failureAccrual)
            } catch {
                discovery.policyRefused(path, error)
            }
        } else {
            entry.routes = .some(nil)
            entry.balancer.setAccrual(nil)
        }
        let waiters = entry.policyWaiters
        entry.policyWaiters = []
        for waiter in waiters { waiter.succeed() }
    }

    /// Concrete → endpoint: the endpoint for a request to `concrete`. `afterWaiting`: this
    /// request already waited once, so no state yet, no endpoints or an unknown service now fail it.
    func resolve(_ concrete: ConcreteTarget, afterWaiting: Bool = false, excluding: BalancedEndpoint? = nil) -> Resolution {
        let path = concrete.path
        let now = clock.now()
        guard let entry = entries[path] else {
            entries[path] = Entry(lastUsed: now)
            startSweeping()
            discovery.subscribe(path, loop: NIOLoopBound(self, eventLoop: eventLoop))
            return wait(path)
        }
        entry.lastUsed = now
        switch entry.state {
        case .endpoints?:
            if let endpoint = entry.balancer.pick(now: now, excluding: excluding, using: &random) { return .endpoint(endpoint) }
            if entry.balancer.allEjected(now: now) {
                return .failure(ProxyError(code: .noEndpoints, detail: "every endpoint of \(path) is ejected after consecutive failures"))
            }
            if afterWaiting || excluding != nil {
                return .failure(ProxyError(code: .noEndpoints, detail: "service \(path) has no endpoints"))
            }
            return wait(path)
        case .unknown?:
            return .failure(ProxyError(code: .unknownService, detail: "service \(path) not found"))
        case nil:
            if afterWaiting { return .failure(ProxyError(code: .discoveryUnavailable, detail: "no answer from the destination service for \(path)")) }
            return wait(path)
        }
    }

    /// Calls `body` on the loop with the endpoint for a connection or stream to `logical` (its
    /// concrete backend chosen first, unless the route stage chose it), once known (at once when it is).
    func endpoint(for logical: LogicalTarget, concrete chosen: ConcreteTarget? = nil, excluding: BalancedEndpoint? = nil,
                  _ body: @escaping (Result<BalancedEndpoint, ProxyError>) -> Void) {
        let concrete = chosen ?? concrete(for: logical)
        switch resolve(concrete, excluding: excluding) {
        case .endpoint(let endpoint): body(.success(endpoint))
        case .failure(let error): body(.failure(error))
        case .wait(let ready):
            ready.assumeIsolated().whenComplete { [self] _ in
                // The profile may have arrived meanwhile: choose the backend again (unless a route chose it).
                let concrete = chosen ?? self.concrete(for: logical)
                switch resolve(concrete, afterWaiting: true, excluding: excluding) {
                case .endpoint(let endpoint): body(.success(endpoint))
                case .failure(let error): body(.failure(error))
                case .wait: body(.failure(ProxyError(code: .noEndpoints, detail: "service \(concrete) has no endpoints")))
                }
            }
        }
    }

    /// The address an `ip:port` / `[ip]:port` path names; nil for a service name.
    static func address(_ path: String) -> SocketAddress? {
        EnvironmentValues.parseSocketAddress(path)
    }

    private func wait(_ path: String) -> Resolution {
        let promise = eventLoop.makePromise(of: Void.self)
        entries[path]?.waiters.append(promise)
        eventLoop.assumeIsolated().scheduleTask(in: failFastTimeout) { promise.succeed() }
        return .wait(promise.futureResult)
    }

    /// A new state for `path` from ``ServiceDiscovery``.
    func update(_ path: String, _ state: DiscoveryState) {
        guard let entry = entries[path] else { return }
        var state = state
        if case .unknown = state, let address = Self.address(path) {
            // An address nobody in the mesh has: forwarded as it is, in plaintext (its metrics say
            // `tls="no_identity"`, not provided by service discovery).
            state = .endpoints([DiscoveredEndpoint(address: address)])
        }
        entry.state = state
        switch state {
        case .endpoints(let endpoints): entry.balancer.replace(with: endpoints, now: clock.now())
        case .unknown: entry.balancer.replace(with: [], now: clock.now())
        }
        // Waiters go on once there is something to use, or an answer that there is nothing.
        let waiters: [EventLoopPromise<Void>]
        if case .endpoints(let endpoints) = state, endpoints.isEmpty {
            waiters = []
        } else {
            waiters = entry.waiters
            entry.waiters = []
        }
        for waiter in waiters { waiter.succeed() }
    }

    /// A new profile for `path`: its routes (refused whole, with the reason counted, when the
    /// proxy cannot use them; the routes in force stay) and its traffic split, whose services are
    /// watched at once, so that requests find their endpoints ready.
    func updateProfile(_ path: String, _ profile: ProfileUpdate) {
        guard let entry = entries[path] else { return }
        do {
            let routes = try ProfileWire.routes(profile.bytes)
            entry.profileRoutes = routes.routes.isEmpty ? nil : routes
            entry.profileSeries = [:]
        } catch {
            discovery.policyRefused(path, error)
        }
        let split = profile.split
        entry.split = WeightedDistribution(split.map { (element: $0.path, weight: $0.weight) })
        let now = clock.now()
        for target in split where entries[target.path] == nil {
            entries[target.path] = Entry(lastUsed: now)
            discovery.subscribe(target.path, loop: NIOLoopBound(self, eventLoop: eventLoop))
        }
    }

    private func startSweeping() {
        guard sweep == nil else { return }
        sweep = eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in
            sweep = nil
            let now = clock.now()
            for (path, entry) in entries where entry.lastUsed + idleTimeout < now && entry.waiters.isEmpty && entry.policyWaiters.isEmpty
                && !entry.balancer.endpoints.contains(where: { $0.inFlight > 0 }) {
                entries[path] = nil
                discovery.unsubscribe(path, loop: self)
            }
            if !entries.isEmpty { startSweeping() }
        }
    }

    /// Decides a failed attempt of a request with retries (drawing its backoff on this loop):
    /// a response head with `status`, an attempt lost without one (`status` nil), or one that
    /// was never sent (`unsent`).
    func decide<Part>(_ attempts: inout RequestAttempts<Part>, status: Int?, grpcStatus: Int?,
                      timedOut: Bool = false, unsent: Bool = false) -> RequestAttempts<Part>.Decision {
        if unsent { return attempts.judgeUnsent(using: &random) }
        if let status { return attempts.judge(status: status, grpcStatus: grpcStatus, using: &random) }
        return attempts.judgeLost(timedOut: timedOut, using: &random)
    }
}
