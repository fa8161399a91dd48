import NIOCore

/// One endpoint of a balanced service on one event loop: what discovery said of it, its latency
/// estimate and outstanding requests, and whether it recently refused a connection.
final class BalancedEndpoint {
    private(set) var endpoint: DiscoveredEndpoint
    private(set) var ewma: PeakEWMA
    private(set) var inFlight = 0
    /// Connect failures put the endpoint aside until then (doubling, up to 5 s).
    private(set) var unavailableUntil: NIODeadline = .uptimeNanoseconds(0)
    private var failureBackoff: TimeAmount = .zero
    /// Still in the service's endpoint set (a removed endpoint finishes its requests).
    fileprivate(set) var isMember = true

    init(_ endpoint: DiscoveredEndpoint, now: NIODeadline) {
        self.endpoint = endpoint
        ewma = PeakEWMA(now: now.uptimeNanoseconds)
    }

    var target: ConnectionTarget { .address(endpoint.address) }

    fileprivate func update(_ endpoint: DiscoveredEndpoint) {
        self.endpoint = endpoint
    }

    /// A request to this endpoint starts.
    func started() {
        inFlight += 1
    }

    /// A request ends; its latency feeds the estimate.
    func finished(latencyNanoseconds: Int64, now: NIODeadline) {
        inFlight = max(0, inFlight - 1)
        ewma.observe(rttNanoseconds: Double(max(0, latencyNanoseconds)), now: now.uptimeNanoseconds)
    }

    /// A request given to this endpoint went elsewhere before it was sent (its connect failed).
    func abandoned() {
        inFlight = max(0, inFlight - 1)
    }

    /// A connection attempt failed: the endpoint is avoided for a while.
    func connectFailed(now: NIODeadline) {
        failureBackoff = failureBackoff == .zero ? .milliseconds(250) : min(failureBackoff * 2, .seconds(5))
        unavailableUntil = now + failureBackoff
    }

    /// A connection succeeded: the endpoint is trusted again.
    func connected() {
        failureBackoff = .zero
        unavailableUntil = .uptimeNanoseconds(0)
    }
}

/// Power of two choices over Peak-EWMA (linkerd-compat §2.8): two distinct endpoints picked at
/// random, the one with the lower `estimate × (in-flight + 1)` wins. Endpoints that recently
/// refused connections are left out while others remain.
struct EndpointBalancer {
    private(set) var endpoints: [BalancedEndpoint] = []

    var isEmpty: Bool { endpoints.isEmpty }

    /// Replaces the endpoint set, keeping the state of endpoints that stay.
    mutating func replace(with discovered: [DiscoveredEndpoint], now: NIODeadline) {
        var existing: [SocketAddress: BalancedEndpoint] = [:]
        for endpoint in endpoints { existing[endpoint.endpoint.address] = endpoint }
        endpoints = discovered.map { endpoint in
            if let kept = existing.removeValue(forKey: endpoint.address) {
                kept.update(endpoint)
                return kept
            }
            return BalancedEndpoint(endpoint, now: now)
        }
        for gone in existing.values { gone.isMember = false }
    }

    /// The endpoint for the next request, or nil when there is none; `excluding` one that just
    /// failed. Allocates nothing.
    func pick(now: NIODeadline, excluding excluded: BalancedEndpoint? = nil) -> BalancedEndpoint? {
        var available = 0
        var others = 0
        for endpoint in endpoints where endpoint !== excluded {
            others += 1
            if endpoint.unavailableUntil <= now { available += 1 }
        }
        // Only when every endpoint is backing off are they tried anyway.
        let onlyAvailable = available > 0
        let count = onlyAvailable ? available : others
        func candidate(_ index: Int) -> BalancedEndpoint {
            var seen = 0
            for endpoint in endpoints where endpoint !== excluded && (!onlyAvailable || endpoint.unavailableUntil <= now) {
                if seen == index { return endpoint }
                seen += 1
            }
            preconditionFailure("candidate index out of range")
        }
        switch count {
        case 0: return nil
        case 1: return candidate(0)
        default:
            let first = Int.random(in: 0..<count)
            var second = Int.random(in: 0..<(count - 1))
            if second >= first { second += 1 }
            let a = candidate(first), b = candidate(second)
            let stamp = now.uptimeNanoseconds
            return a.ewma.cost(inFlight: a.inFlight, now: stamp) <= b.ewma.cost(inFlight: b.inFlight, now: stamp) ? a : b
        }
    }
}
