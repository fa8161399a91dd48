import GRPCCore
import Logging
import SwiftProtobuf
import WeftAPI
import WeftCore
import WeftStore

/// `io.linkerd.proxy.destination.Destination`: endpoints (`Get`) and profiles (`GetProfile`)
/// computed from the store, streamed as the store changes (linkerd-compat §1.4, §3.3).
///
/// `Get` sends the whole endpoint set first (`add`, or `no_endpoints` when there is none), then
/// differences: `add` for new or changed endpoints, `remove` for gone ones, `no_endpoints` when
/// the last one goes. An unknown service is `no_endpoints{exists: false}`, and the stream stays
/// open so that the service is picked up when it is created. `Get` of an `ip:port` resolves a
/// Service's cluster IP to its endpoints and a workload's IP to that workload alone (linkerd-compat
/// §3.3); an address nobody has is `no_endpoints{exists: false}`.
public struct DestinationService: Io_Linkerd_Proxy_Destination_Destination.SimpleServiceProtocol {
    let store: any ResourceStore
    let resolver: EndpointResolver
    let profiles: ProfileResolver
    let metrics: ControllerMetrics
    let logger: Logger

    public init(store: any ResourceStore, clusterDomain: String, preferIPv4: Bool = false, metrics: ControllerMetrics, logger: Logger) {
        self.store = store
        resolver = EndpointResolver(clusterDomain: clusterDomain, preferIPv4: preferIPv4)
        profiles = ProfileResolver(clusterDomain: clusterDomain)
        self.metrics = metrics
        self.logger = logger
    }

    public func get(request: Io_Linkerd_Proxy_Destination_GetDestination,
                    response: RPCWriter<Io_Linkerd_Proxy_Destination_Update>, context: ServerContext) async throws {
        let caller = ControlPlaneCaller(context)
        _ = try caller.check(request.contextToken, what: "context_token", required: false, in: await store.snapshot())
        let target = try profiles.target(request.path)
        // A caller on IPv4 (also as a v4-mapped address on a dual-stack listener) may have no IPv6.
        let ipv4 = context.remotePeer.hasPrefix("ipv4:") || context.remotePeer.hasPrefix("ipv6:[::ffff:")
        metrics.watchStarted("destination_get")
        defer { metrics.watchEnded("destination_get") }
        var sent: [EndpointKey: Io_Linkerd_Proxy_Destination_WeightedAddr]? = nil
        var sentNoEndpoints: Bool? = nil
        for await snapshot in await store.snapshots() {
            let started = ContinuousClock.now
            let resolved = switch target {
            case .service(let authority): resolver.resolve(authority, in: snapshot, callerUsesIPv4: ipv4)
            case .address(let ip, let port): resolver.resolve(ip, port: port, in: snapshot, callerUsesIPv4: ipv4)
            }
            let updates = Self.updates(from: resolved, sent: &sent, sentNoEndpoints: &sentNoEndpoints)
            for update in updates { try await response.write(update) }
            if !updates.isEmpty { metrics.updateSent("destination_get", latency: ContinuousClock.now - started) }
        }
    }

    struct EndpointKey: Hashable {
        let address: IPAddress
        let port: UInt16
    }

    /// The messages that take a client from what it was sent to `resolved`.
    static func updates(from resolved: ResolvedEndpoints,
                        sent: inout [EndpointKey: Io_Linkerd_Proxy_Destination_WeightedAddr]?,
                        sentNoEndpoints: inout Bool?) -> [Io_Linkerd_Proxy_Destination_Update] {
        func noEndpoints(exists: Bool) -> [Io_Linkerd_Proxy_Destination_Update] {
            guard sentNoEndpoints != exists else { return [] }
            sentNoEndpoints = exists
            sent = [:]
            var update = Io_Linkerd_Proxy_Destination_Update()
            update.noEndpoints = .with { $0.exists = exists }
            return [update]
        }
        guard case .endpoints(let endpoints, let setLabels) = resolved else { return noEndpoints(exists: false) }
        guard !endpoints.isEmpty else { return noEndpoints(exists: true) }
        var current: [EndpointKey: Io_Linkerd_Proxy_Destination_WeightedAddr] = [:]
        for endpoint in endpoints { current[EndpointKey(address: endpoint.address, port: endpoint.port)] = weightedAddress(endpoint) }
        let previous = sent ?? [:]
        var updates: [Io_Linkerd_Proxy_Destination_Update] = []
        let gone = previous.keys.filter { current[$0] == nil }
        if !gone.isEmpty {
            var update = Io_Linkerd_Proxy_Destination_Update()
            update.remove = .with { set in set.addrs = gone.map { .init($0.address, port: $0.port) } }
            updates.append(update)
        }
        let changed = current.filter { previous[$0.key] != $0.value }.sorted { "\($0.key.address):\($0.key.port)" < "\($1.key.address):\($1.key.port)" }
        if !changed.isEmpty {
            var update = Io_Linkerd_Proxy_Destination_Update()
            update.add = .with { set in
                set.addrs = changed.map(\.value)
                set.metricLabels = setLabels
            }
            updates.append(update)
        }
        sent = current
        sentNoEndpoints = nil
        return updates
    }

    static func weightedAddress(_ endpoint: ResolvedEndpoint) -> Io_Linkerd_Proxy_Destination_WeightedAddr {
        var address = Io_Linkerd_Proxy_Destination_WeightedAddr()
        address.addr = .init(endpoint.address, port: endpoint.port)
        address.weight = 10_000
        address.metricLabels = endpoint.labels
        if let identity = endpoint.identity, let serverName = endpoint.serverName {
            var tls = Io_Linkerd_Proxy_Destination_TlsIdentity()
            switch identity {
            case .dnsLike(let name): tls.dnsLikeIdentity = .with { $0.name = name.description }
            case .spiffe(let id): tls.uriLikeIdentity = .with { $0.uri = id.description }
            }
            tls.serverName = .with { $0.name = serverName }
            address.tlsIdentity = tls
        }
        // Every ExternalWorkload is meshed: its proxy takes HTTP/1 upgraded to HTTP/2
        // (`l5d-orig-proto`), unless the port is opaque.
        var hint = Io_Linkerd_Proxy_Destination_ProtocolHint()
        if endpoint.opaque {
            hint.opaque = .init()
            if let inbound = endpoint.proxyInboundPort { hint.opaqueTransport = .with { $0.inboundPort = UInt32(inbound) } }
        } else {
            hint.h2 = .init()
        }
        address.protocolHint = hint
        return address
    }

    public func getProfile(request: Io_Linkerd_Proxy_Destination_GetDestination,
                           response: RPCWriter<Io_Linkerd_Proxy_Destination_DestinationProfile>, context: ServerContext) async throws {
        let caller = ControlPlaneCaller(context)
        let clientNamespace = try caller.check(request.contextToken, what: "context_token", required: false, in: await store.snapshot()).namespace
        let target = try profiles.target(request.path)
        metrics.watchStarted("destination_get_profile")
        defer { metrics.watchEnded("destination_get_profile") }
        var sent: Io_Linkerd_Proxy_Destination_DestinationProfile? = nil
        for await snapshot in await store.snapshots() {
            let started = ContinuousClock.now
            let profile = profiles.profile(for: target, clientNamespace: clientNamespace, in: snapshot)
            guard profile != sent else { continue }
            try await response.write(profile)
            sent = profile
            metrics.updateSent("destination_get_profile", latency: ContinuousClock.now - started)
        }
    }
}
