import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOSSL
import WeftCore
import WeftPolicy

/// How one connection's traffic reaches its target once its protocol is known: the handlers
/// each protocol needs, installed after the detection handler (or first, for opaque ports), and
/// the bytes read during detection replayed into them.
struct ForwardingStage: Sendable {
    /// The connection's own target (its original destination, or the listener's fixed target);
    /// `nil` for an ingress connection that was not redirected.
    var target: ConnectionTarget?
    /// Whether HTTP requests are routed by their own headers (ingress mode).
    let ingress: Bool
    let connectTimeout: Duration
    /// How long a client may take to send its first bytes, and to finish a mesh-TLS handshake.
    let detectTimeout: Duration
    let headerReadTimeout: Duration
    let streamStallTimeout: Duration
    let direction: Direction
    /// Where the data path reads the time.
    let clock: MonotonicClock
    var source: TCPMetrics
    let destination: TCPMetrics
    let outcome: ConnectionOutcome
    let registry: MetricRegistry
    let pool: NIOLoopBoundBox<HTTP1ConnectionPool>
    let http2Upstreams: NIOLoopBoundBox<HTTP2Upstreams>
    /// Inbound: terminates TLS whose SNI is this proxy's own name (nil without identity).
    let meshTLS: MeshTLSServer?
    /// Outbound: names under discovery are balanced over their endpoints.
    let discovery: NIOLoopBoundBox<LoopDiscovery>?
    /// Opens `source` for the connection when its protocol is known (see ``SourceConnection``).
    let sourceConnection: NIOLoopBound<SourceConnection>
    /// Set for a connection made to the proxy's own inbound port (opaque transport): the
    /// transport header's port leads to these targets (the bound inbound ports), else to that
    /// port on the address the connection came to.
    var directTargets: [UInt16: ConnectionTarget]?
    /// Outbound mapped ports with `@identity`: tunnel to the peer proxy over mutual TLS.
    var meshTLSClient: (client: MeshTLSClient, peer: MeshPeer)?
    /// Outbound with identity: originates mesh TLS to discovered endpoints that have one.
    var meshTLSOrigin: MeshTLSClient?
    /// Set on the stage behind a terminated TLS connection: `tls="true"` metrics and the client's
    /// verified identity for `l5d-client-id` (nil when it sent no certificate).
    var terminatedTLS = false
    var clientIdentity: ClientIdentity?
    /// Inbound: the ports' policies, the port this connection's policy is of, and where the
    /// client connects from (``ConnectionAuthorization``).
    var inboundPolicies: NIOLoopBoundBox<LoopInboundPolicies>?
    var policyPort: UInt16?
    var clientAddress: IPAddress?
    var authorizationMetrics: AuthorizationMetrics?
    let logger: Logger

    private var targeting: RequestTargeting? {
        if ingress { return .ingress }
        return target.map { .connection($0) }
    }

    /// Bytes forwarded as they are, both ways; used first thing on opaque ports. Without a target
    /// (an unredirected ingress connection that is not HTTP) the connection is closed.
    func installOpaque(on channel: Channel, position: ChannelPipeline.SynchronousOperations.Position, bytes: ByteBuffer?) throws {
        let pipeline = channel.pipeline.syncOperations
        sourceConnection.value.open(source)
        guard let target else { throw ProxyError(code: .noTarget, detail: "not HTTP, and no original destination") }
        if let admission = authorization(channel: channel), !admission.admitsConnection() {
            // Closed before anything reaches the app.
            throw ProxyError(code: .forbidden, detail: "connection refused by policy")
        }
        try pipeline.addHandler(
            OpaqueForwarder(target: target, connectTimeout: connectTimeout, initialBytes: bytes,
                            metrics: (source, destination), outcome: outcome, meshTLS: meshTLSClient, meshTLSOrigin: meshTLSOrigin,
                            discovery: discovery?.value, registry: registry, logger: logger),
            position: position)
    }

    /// The stage for a detected protocol, after the detection handler of `context`.
    func install(_ detected: DetectedProtocol, after context: ChannelHandlerContext, bytes: ByteBuffer?) throws {
        if case .tls(let serverName?) = detected, meshTLS?.serverName == serverName {
            // Opened after the handshake, with the client's identity.
        } else {
            sourceConnection.value.open(source)
        }
        if case .tls(let serverName?) = detected, meshTLS?.serverName == serverName {
            // Mesh TLS for this proxy: terminated first, whatever the target (none, for opaque
            // transport to the inbound port itself: the transport header names it).
            try installTLSTermination(after: context, bytes: bytes)
            return
        }
        guard let targeting else {
            try installOpaque(on: context.channel, position: .after(context.handler), bytes: bytes)
            return
        }
        switch detected {
        case .http1:
            try installHTTP1(after: context, targeting: targeting)
        case .http2:
            try installHTTP2(after: context, targeting: targeting)
        case .tls(let serverName?) where meshTLS.map({ $0.serverName == serverName }) ?? false:
            try installTLSTermination(after: context, bytes: bytes)
            return
        case .tls, .opaque:
            // TLS that is not for this proxy is passed through untouched.
            try installOpaque(on: context.channel, position: .after(context.handler), bytes: bytes)
            return
        }
        if let bytes { context.fireChannelRead(NIOAny(bytes)) }
        context.fireChannelReadComplete()
    }

    /// What this connection's HTTP/1 forwarders share, for requests arriving as HTTP/1
    /// (`serverHandlers` set) or as HTTP/2 streams another proxy upgraded.
    private func http1Forwarding(_ targeting: RequestTargeting, metrics: HTTPMetrics, serverHandlers: HTTP1ServerHandlers?,
                                 authorization: ConnectionAuthorization?) -> HTTP1Forwarding {
        var forwarding = HTTP1Forwarding(targeting: targeting, direction: direction, connectTimeout: connectTimeout, pool: pool.value,
                                         metrics: metrics, tcp: (source, destination), outcome: outcome,
                                         clock: clock, logger: logger)
        forwarding.clientIdentity = clientIdentity?.name
        forwarding.serverHandlers = serverHandlers
        forwarding.authorization = authorization
        if direction == .outbound {
            forwarding.discovery = discovery?.value
            forwarding.meshTLS = meshTLSOrigin
            forwarding.registry = registry
            forwarding.http2Upstreams = http2Upstreams.value
        }
        return forwarding
    }

    /// HTTP/1: NIO's server handlers, then one forwarder for the connection's requests.
    private func installHTTP1(after context: ChannelHandlerContext, targeting: RequestTargeting) throws {
        let pipeline = context.pipeline.syncOperations
        let handlers = try HTTP1ServerHandlers.install(on: pipeline, after: context.handler, headerReadTimeout: headerReadTimeout)
        let forwarding = http1Forwarding(targeting, metrics: httpMetrics(), serverHandlers: handlers,
                                         authorization: authorization(channel: context.channel))
        try pipeline.addHandler(HTTP1Forwarder(forwarding), position: .after(handlers.last))
    }

    /// HTTP/2: a server connection whose every stream is relayed to its target on its own; inbound,
    /// a stream another proxy upgraded from HTTP/1 (`l5d-orig-proto`) goes to the app as HTTP/1.
    private func installHTTP2(after context: ChannelHandlerContext, targeting: RequestTargeting) throws {
        let pipeline = context.pipeline.syncOperations
        let metrics = NIOLoopBound(httpMetrics(), eventLoop: context.eventLoop)
        let (upstreams, discovery, logger, clock) = (http2Upstreams, discovery, logger, clock)
        let stallTimeout = TimeAmount(streamStallTimeout)
        let (direction, clientIdentity) = (direction, clientIdentity?.name)
        let admission = authorization(channel: context.channel)
        // Inbound only: streams another proxy upgraded from HTTP/1 go to the app as HTTP/1.
        let forwarding = direction == .inbound
            ? http1Forwarding(targeting, metrics: metrics.value, serverHandlers: nil, authorization: admission) : nil
        // What each stream's handlers are made by, made once for the connection (a stream then
        // allocates no closures of its own).
        let relay: () -> ChannelHandler = {
            HTTP2StreamRelay.downstream(targeting: targeting, upstreams: upstreams.value, metrics: metrics.value,
                                        stallTimeout: stallTimeout, removesClientIdentity: direction == .inbound,
                                        clientIdentity: clientIdentity, discovery: discovery?.value, authorization: admission,
                                        clock: clock, logger: logger)
        }
        let forwarder: (() -> ChannelHandler)? = forwarding.map { forwarding in { HTTP1Forwarder(forwarding) } }
        let makers = NIOLoopBound((relay: relay, forwarder: forwarder), eventLoop: context.eventLoop)
        // Shutdown (ChannelShouldQuiesceEvent) sends GOAWAY, then a second one naming the last
        // stream taken once a PING round trip shows the client has seen the first; open streams
        // finish, then the connection closes. It counts streams through the stream delegate.
        let lifecycle = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: context.eventLoop,
            configuration: .init(maxIdleTime: nil, maxAge: nil, maxGraceTime: nil, keepalive: nil))
        let http2 = NIOHTTP2Handler(
            mode: .server, eventLoop: context.eventLoop, connectionConfiguration: HTTP2Limits.connection,
            streamConfiguration: .init(), streamDelegate: lifecycle.http2StreamDelegate
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                let makers = makers.value
                guard let forwarder = makers.forwarder else {
                    try stream.pipeline.syncOperations.addHandler(makers.relay())
                    return
                }
                // Inbound: a stream may be HTTP/1 that the client's proxy upgraded.
                try stream.pipeline.syncOperations.addHandler(OriginalProtocolSwitch(relay: makers.relay, forwarder: forwarder))
            }
        }
        let closer = HTTP2ConnectionFlusher(isClient: false)
        try pipeline.addHandler(closer, position: .after(context.handler))
        try pipeline.addHandler(http2, position: .after(closer))
        try pipeline.addHandler(lifecycle, position: .after(http2))
    }

    /// Inbound: the authorization of this connection's client on its port; nil elsewhere.
    private func authorization(channel: Channel) -> ConnectionAuthorization? {
        guard direction == .inbound, let inboundPolicies, let policyPort, let authorizationMetrics else { return nil }
        let client = InboundClient(address: clientAddress, identity: clientIdentity?.name,
                                   identityIsDNSLike: clientIdentity.map { if case .dnsLike = $0.identity { true } else { false } } ?? true)
        return ConnectionAuthorization(port: policyPort, client: client, policies: inboundPolicies.value, channel: channel,
                                       metrics: authorizationMetrics, logger: logger)
    }

    private func httpMetrics() -> HTTPMetrics {
        HTTPMetrics(registry: registry, direction: direction, targetAddress: target?.description ?? "", tls: terminatedTLS ? .established : .disabled,
                    clientID: terminatedTLS ? clientIdentity?.name : nil)
    }
}
