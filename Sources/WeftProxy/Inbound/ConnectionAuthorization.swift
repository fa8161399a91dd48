import Logging
import NIOCore
import WeftPolicy

/// The authorization of one inbound connection: its client (address and verified identity)
/// against its port's policy in force — for the connection when it is not HTTP, for each request
/// when it is. Decisions are counted with Linkerd's metric names and labels; the counters of a
/// connection are found once per policy, so a request costs no registry lookup. Lives on the
/// connection's event loop.
final class ConnectionAuthorization {
    let port: UInt16
    let client: InboundClient
    private let policies: LoopInboundPolicies
    private let channel: Channel
    private let metrics: AuthorizationMetrics
    private let logger: Logger
    /// The policy the cached counters and decisions belong to.
    private var countedPolicy: InboundPortPolicy?
    private var counters: [CounterKey: Counter] = [:]

    /// Which counter: a route (or TCP, or no route) and the authorization that admitted (or
    /// `denied`). Indices stay apart however many routes and authorizations a policy has.
    private struct CounterKey: Hashable {
        static let tcp = -1, noRoute = -2, denied = -1
        let route: Int
        let authorization: Int
    }
    /// This client's decision per route of `countedPolicy`, made on first use.
    private var decisions: InboundClientDecisions?

    init(port: UInt16, client: InboundClient, policies: LoopInboundPolicies, channel: Channel, metrics: AuthorizationMetrics, logger: Logger) {
        self.port = port
        self.client = client
        self.policies = policies
        self.channel = channel
        self.metrics = metrics
        self.logger = logger
        policies.track(self)
        channel.closeFuture.assumeIsolated().whenComplete { [policies] _ in policies.untrack(self) }
    }

    /// Whether an opaque (or TLS, or undetected) connection may reach the app.
    func admitsConnection() -> Bool {
        guard let policy = policies.policy(for: port) else {
            logger.info("connection refused: no inbound policy for the port yet", metadata: ["port": "\(port)", "client": "\(describeClient)"])
            metrics.tcpDenied(server: ("", "default", "unknown"), client: client).increment()
            return false
        }
        let decision = policy.authorizer.authorizeConnection(client)
        switch decision {
        case .allowed(let index), .audited(let index):
            if case .audited = decision { audit(policy, route: nil, index) }
            counter(policy, CounterKey(route: CounterKey.tcp, authorization: index)) { metrics.tcpAllowed(server: policy.server, authorization: policy.authorizer.authorizations[index].metadata, client: client) }
                .increment()
            return true
        case .denied:
            logger.info("connection refused by policy", metadata: denialMetadata(policy, route: nil))
            counter(policy, CounterKey(route: CounterKey.tcp, authorization: CounterKey.denied)) { metrics.tcpDenied(server: policy.server, client: client) }.increment()
            return false
        }
    }

    /// Nil when `request` is admitted; else why not: no route (404) or no
    /// authorization (403).
    func refusal<Request: RoutableRequest>(_ request: Request) -> ProxyError? {
        guard let policy = policies.policy(for: port) else {
            metrics.httpDenied(server: ("", "default", "unknown"), route: .default("default"), client: client).increment()
            return ProxyError(code: .forbidden, detail: "unauthorized request on port \(port): no inbound policy yet")
        }
        let authorizer = policy.authorizer
        guard let route = authorizer.route(request) else {
            counter(policy, CounterKey(route: CounterKey.noRoute, authorization: CounterKey.denied)) { metrics.routeNotFound(server: policy.server) }.increment()
            return ProxyError(code: .noRoute, detail: "no route found for request on port \(port)")
        }
        if countedPolicy !== policy || decisions == nil {
            renew(policy)
            decisions = InboundClientDecisions(authorizer, client: client)
        }
        let decision = decisions?.request(route: route) ?? authorizer.authorizeRequest(route: route, client)
        switch decision {
        case .allowed(let index), .audited(let index):
            if case .audited = decision { audit(policy, route: route, index) }
            counter(policy, CounterKey(route: route, authorization: index)) {
                metrics.httpAllowed(server: policy.server, route: authorizer.routes[route].metadata,
                                    authorization: authorizer.authorizations[index].metadata, client: client)
            }.increment()
            return nil
        case .denied:
            logger.info("request refused by policy", metadata: denialMetadata(policy, route: route))
            counter(policy, CounterKey(route: route, authorization: CounterKey.denied)) { metrics.httpDenied(server: policy.server, route: authorizer.routes[route].metadata, client: client) }
                .increment()
            return ProxyError(code: .forbidden, detail: "unauthorized request on route")
        }
    }

    /// Whether `policy` admits this client on any route (or, for a port that is not HTTP, at all):
    /// a connection it does not is closed when the policy arrives.
    func isAdmittedAnywhere(by policy: InboundPortPolicy) -> Bool {
        let authorizer = policy.authorizer
        if case .denied = authorizer.authorizeConnection(client) {
            return authorizer.routes.indices.contains { authorizer.authorizeRequest(route: $0, client) != .denied }
        }
        return true
    }

    /// Closes a connection the port's new policy refuses.
    func closeRefused() {
        logger.info("closing a connection the new inbound policy refuses", metadata: ["port": "\(port)", "client": "\(describeClient)"])
        channel.close(promise: nil)
    }

    private func counter(_ policy: InboundPortPolicy, _ key: CounterKey, make: () -> Counter) -> Counter {
        renew(policy)
        if let counter = counters[key] { return counter }
        let counter = make()
        counters[key] = counter
        return counter
    }

    /// Forgets the counters and decisions of an earlier policy.
    private func renew(_ policy: InboundPortPolicy) {
        guard countedPolicy !== policy else { return }
        countedPolicy = policy
        counters.removeAll(keepingCapacity: true)
        decisions = nil
    }

    /// Audit mode: allowed, and what would have been decided without the audit authorization.
    private func audit(_ policy: InboundPortPolicy, route: Int?, _ index: Int) {
        logger.info("audit: allowed a client no authorization admits (it would have been denied)", metadata: denialMetadata(policy, route: route))
    }

    private func denialMetadata(_ policy: InboundPortPolicy, route: Int?) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["port": "\(port)", "client": "\(describeClient)",
                                         "server": "\(policy.server.kind)/\(policy.server.name)"]
        if let route { metadata["route"] = "\(policy.authorizer.routes[route].metadata.labels.name)" }
        if let refusal = policy.refusal { metadata["policy"] = "refused: \(refusal)" }
        return metadata
    }

    private var describeClient: String {
        "\(client.address.map { "\($0)" } ?? "?") \(client.identity ?? "(no identity)")"
    }
}
