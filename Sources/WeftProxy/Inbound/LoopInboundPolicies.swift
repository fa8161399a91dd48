import NIOCore
import WeftPolicy

/// One port's policy as connections use it: the policy, prepared for decisions, and the
/// server's metric labels. Immutable; replaced whole when the policy changes. Lives on the
/// event loop whose connections use it.
final class InboundPortPolicy {
    let policy: ServerPolicy
    let authorizer: InboundAuthorizer
    /// `srv_group`, `srv_kind`, `srv_name`.
    let server: (group: String, kind: String, name: String)
    /// Why the policy the control plane sent was refused (then nothing is authorized).
    let refusal: String?

    init(_ policy: ServerPolicy) {
        self.policy = policy
        authorizer = InboundAuthorizer(policy)
        server = (policy.labels["group"] ?? "", policy.labels["kind"] ?? "", policy.labels["name"] ?? "")
        refusal = nil
    }

    /// A policy the proxy could not read: detection, no authorization.
    init(refused reason: String) {
        policy = ServerPolicy(proxyProtocol: .detect(timeout: ServerPolicy.ProxyProtocol.defaultDetectTimeout), authorizations: [],
                              httpRoutes: [.default], labels: [:])
        authorizer = InboundAuthorizer(policy)
        server = ("", "default", "refused")
        refusal = reason
    }
}

/// The inbound policies one event loop's connections read: each watched port's latest policy,
/// or — for a proxy without a policy service — one default policy for every port. Connections
/// that arrive before their port's policy wait for it (``whenKnown(_:on:timeout:)``); open
/// connections are re-checked when it changes and closed when it no longer admits them.
final class LoopInboundPolicies {
    private var ports: [UInt16: InboundPortPolicy] = [:]
    /// Used for every port when no policy service is configured.
    let fallback: InboundPortPolicy?
    /// Asks the policy service to watch a port it does not watch yet (nil: no policy service).
    var requestWatch: ((UInt16) -> Void)?
    private var waiting: [UInt16: [EventLoopPromise<Void>]] = [:]
    private var open: [ObjectIdentifier: ConnectionAuthorization] = [:]
    private var requested: Set<UInt16> = []

    init(fallback: ServerPolicy?) {
        self.fallback = fallback.map(InboundPortPolicy.init)
    }

    /// The policy in force on `port`: its own, else the default; nil while unknown (deny).
    func policy(for port: UInt16) -> InboundPortPolicy? {
        ports[port] ?? fallback
    }

    /// Whether connections to `port` skip protocol detection (its policy says opaque or TLS).
    func isOpaque(_ port: UInt16) -> Bool {
        policy(for: port)?.policy.proxyProtocol.skipsDetection ?? false
    }

    /// Ports whose policy has not arrived yet although connections wait for it, for `/ready`.
    var unknownPorts: [UInt16] { waiting.keys.sorted() }

    /// Succeeds once `port` has a policy, or after `timeout` (then connections are refused).
    func whenKnown(_ port: UInt16, on eventLoop: EventLoop, timeout: TimeAmount) -> EventLoopFuture<Void> {
        guard policy(for: port) == nil else { return eventLoop.makeSucceededVoidFuture() }
        if requested.insert(port).inserted { requestWatch?(port) }
        let promise = eventLoop.makePromise(of: Void.self)
        waiting[port, default: []].append(promise)
        let scheduled = eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            // Still waiting: stop waiting, and let the connection be refused.
            guard let self, let index = self.waiting[port]?.firstIndex(where: { $0.futureResult === promise.futureResult }) else { return }
            self.waiting[port]?.remove(at: index)
            if self.waiting[port]?.isEmpty == true { self.waiting[port] = nil }
            promise.succeed()
        }
        promise.futureResult.whenComplete { _ in scheduled.cancel() }
        return promise.futureResult
    }

    /// A new policy for `port`: waiting connections go on, and open ones it no longer admits close.
    func update(port: UInt16, _ policy: InboundPortPolicy) {
        ports[port] = policy
        for promise in waiting.removeValue(forKey: port) ?? [] { promise.succeed() }
        for connection in open.values where connection.port == port && !connection.isAdmittedAnywhere(by: policy) {
            connection.closeRefused()
        }
    }

    func track(_ connection: ConnectionAuthorization) {
        open[ObjectIdentifier(connection)] = connection
    }

    func untrack(_ connection: ConnectionAuthorization) {
        open[ObjectIdentifier(connection)] = nil
    }
}
