import NIOCore
import WeftPolicy

/// One endpoint of a balanced service on one event loop: what discovery said of it and the
/// balancer's view of its load (``EndpointLoad``). Shared by the requests that use it, on its loop.
final class BalancedEndpoint {
    private(set) var endpoint: DiscoveredEndpoint
    fileprivate(set) var load: EndpointLoad
    /// Still in the service's endpoint set (a removed endpoint finishes its requests).
    fileprivate(set) var isMember = true
    private let health: BalancerHealth

    fileprivate init(_ endpoint: DiscoveredEndpoint, now: UInt64, health: BalancerHealth) {
        self.endpoint = endpoint
        self.health = health
        load = EndpointLoad(now: now)
    }

    var target: ConnectionTarget { .address(endpoint.address) }
    var inFlight: Int { load.inFlight }

    fileprivate func update(_ endpoint: DiscoveredEndpoint) {
        self.endpoint = endpoint
    }

    /// A request to this endpoint starts.
    func started(now: UInt64) {
        load.picked(now: now, staleAfter: EndpointBalancer.choice.probeAfterNanoseconds)
    }

    /// A request ends; `rttNanoseconds` runs from sending it on a ready connection to the end of
    /// its response, and feeds the latency estimate; a `failed` one also feeds failure accrual.
    func finished(rttNanoseconds: UInt64, now: UInt64, failed: Bool) {
        load.finished(rttNanoseconds: rttNanoseconds, now: now, failed: failed)
        guard let accrual = health.accrual else { return }
        let wasEjected = load.onProbation
        if load.accrue(failed: failed, now: now, accrual: accrual, using: &health.random), wasEjected != load.onProbation, isMember {
            health.ejected += load.onProbation ? 1 : -1
        }
    }

    /// Whether a response is a failure to the balancer: the proxy's own error, a 5xx, or a gRPC
    /// status that says the server failed (UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
    /// INTERNAL, UNAVAILABLE, DATA_LOSS).
    static func isFailure(status: Int?, grpcStatus: Int?, error: String?) -> Bool {
        if error != nil || (status ?? 0) >= 500 { return true }
        switch grpcStatus {
        case 2?, 4?, 8?, 13?, 14?, 15?: return true
        default: return false
        }
    }

    /// A request given to this endpoint went elsewhere before it was sent (its connect failed).
    func abandoned() {
        load.abandoned()
    }

    /// A connection attempt failed: the endpoint is avoided for a while.
    func connectFailed(now: UInt64) {
        load.connectFailed(now: now)
    }

    /// A connection succeeded: the endpoint is trusted again.
    func connected() {
        load.connected()
    }
}

/// What the endpoints of one service on one loop share: the service's failure accrual (from its
/// own outbound policy), how many endpoints it keeps out, and the gauges that show it.
final class BalancerHealth {
    var accrual: ClientPolicy.FailureAccrual?
    /// Endpoints ejected or on probation.
    var ejected = 0 {
        didSet { showCounts() }
    }
    var members = 0 {
        didSet { showCounts() }
    }
    /// `outbound_*_balancer_endpoints` (ready, pending) of the routes whose backend this is.
    var gauges: [(ready: Gauge, pending: Gauge)] = []
    var random = LoopRandom()

    func showCounts() {
        for (ready, pending) in gauges {
            ready.set(Int64(max(members - ejected, 0)))
            pending.set(Int64(ejected))
        }
    }
}

/// The endpoints of one service on one event loop, chosen by ``PowerOfTwoChoices``.
struct EndpointBalancer {
    /// The choice every balancer makes (Weft's defaults: probe after 1 s, ties within 25 %).
    static let choice = PowerOfTwoChoices()

    private(set) var endpoints: [BalancedEndpoint] = []
    let health = BalancerHealth()

    var isEmpty: Bool { endpoints.isEmpty }

    /// Replaces the endpoint set, keeping the state of endpoints that stay.
    mutating func replace(with discovered: [DiscoveredEndpoint], now: UInt64) {
        var existing: [SocketAddress: BalancedEndpoint] = [:]
        for endpoint in endpoints { existing[endpoint.endpoint.address] = endpoint }
        endpoints = discovered.map { endpoint in
            if let kept = existing.removeValue(forKey: endpoint.address) {
                kept.update(endpoint)
                return kept
            }
            return BalancedEndpoint(endpoint, now: now, health: health)
        }
        for gone in existing.values {
            gone.isMember = false
            if gone.load.onProbation { health.ejected -= 1 }
        }
        health.members = endpoints.count
    }

    /// Sets the service's failure accrual; turned off, every ejection ends.
    func setAccrual(_ accrual: ClientPolicy.FailureAccrual?) {
        guard accrual != health.accrual else { return }
        health.accrual = accrual
        if accrual == nil {
            for endpoint in endpoints { endpoint.load.clearAccrual() }
            health.ejected = 0
        }
    }

    /// Whether every endpoint is kept out by failure accrual at `now` (requests fail fast then).
    func allEjected(now: UInt64) -> Bool {
        !endpoints.isEmpty && health.accrual != nil && endpoints.allSatisfy { $0.load.isEjected(now: now) }
    }

    /// The endpoint for the next request, or nil when there is none; `excluding` one that just
    /// failed. Allocates nothing.
    func pick(now: UInt64, excluding excluded: BalancedEndpoint? = nil, using random: inout LoopRandom) -> BalancedEndpoint? {
        let endpoints = endpoints
        let index = Self.choice.choose(count: endpoints.count, now: now, using: &random) { index in
            endpoints[index] === excluded ? nil : endpoints[index].load
        }
        return index.map { endpoints[$0] }
    }
}
