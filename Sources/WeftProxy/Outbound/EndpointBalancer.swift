import NIOCore
import WeftPolicy

/// One endpoint of a balanced service on one event loop: what discovery said of it and the
/// balancer's view of its load (``EndpointLoad``). Shared by the requests that use it, on its loop.
final class BalancedEndpoint {
    private(set) var endpoint: DiscoveredEndpoint
    private(set) var load: EndpointLoad
    /// Still in the service's endpoint set (a removed endpoint finishes its requests).
    fileprivate(set) var isMember = true

    init(_ endpoint: DiscoveredEndpoint, now: UInt64) {
        self.endpoint = endpoint
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
    /// its response, and feeds the latency estimate.
    func finished(rttNanoseconds: UInt64, now: UInt64) {
        load.finished(rttNanoseconds: rttNanoseconds, now: now)
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

/// The endpoints of one service on one event loop, chosen by ``PowerOfTwoChoices``.
struct EndpointBalancer {
    /// The choice every balancer makes (Weft's defaults: probe after 1 s, ties within 25 %).
    static let choice = PowerOfTwoChoices()

    private(set) var endpoints: [BalancedEndpoint] = []

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
            return BalancedEndpoint(endpoint, now: now)
        }
        for gone in existing.values { gone.isMember = false }
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
