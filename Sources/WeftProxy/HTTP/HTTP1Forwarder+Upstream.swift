import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// The HTTP/1 forwarder's upstream side: the endpoint stage for services under discovery, then a
/// connection to the target — a pooled one, a new one, or a stream on the shared HTTP/2
/// connection to a meshed endpoint.
extension HTTP1Forwarder {
    /// Finds the current request's way to its target; request parts wait in `held` meanwhile.
    func connect(afterWaiting: Bool = false) {
        guard context != nil else { return }
        upstream = .connecting
        if let discovery = forwarding.discovery, let service, case .head(var head)? = held.first {
            // The route stage: the request's rule, its filters, its backend.
            let concrete: ConcreteTarget
            switch discovery.route(service, HTTP1RoutableRequest(head), afterWaiting: afterWaiting) {
            case .wait(let ready):
                ready.assumeIsolated().whenComplete { _ in
                    guard case .connecting = self.upstream, self.exchange != nil else { return }
                    self.connect(afterWaiting: true)
                }
                return
            case .decided(.answer(let error)):
                upstream = .none
                fail(error)
                return
            case .decided(.forward(let backend, let routed)):
                concrete = backend
                let original = head
                RoutedRequest.prepare(&head.headers, routed: routed, service: service)
                held[0] = .head(head)
                self.routed = routed
                startAttempt(original: original)
            }
            var stage = EndpointConnector(discovery: discovery, service: service, requiredIdentity: requiredIdentity,
                                          originatesMeshTLS: forwarding.meshTLS != nil, logger: forwarding.logger)
            stage.concrete = concrete
            stage.connect({ endpoint in self.open(endpoint.target, endpoint: endpoint) }) { result in
                switch result {
                case .success(let (connection, endpoint)):
                    guard self.context?.channel.isActive == true else {
                        // The client left meanwhile: the request never went to the endpoint.
                        endpoint.abandoned()
                        connection.channel.close(promise: nil)
                        return
                    }
                    self.endpoint = endpoint
                    self.target = endpoint.target
                    self.use(connection)
                case .failure(let error):
                    self.upstream = .none
                    if self.exchange?.responseStarted == false, self.retries.attempts != nil, self.retry(.unsent) { return }
                    self.fail(error)
                }
            }
            return
        }
        guard let target else { return }
        if let requiredIdentity {
            upstream = .none
            fail(EndpointConnector.unmeshedFailure(target, requires: requiredIdentity))
            return
        }
        switch open(target, endpoint: nil) {
        case .opened(let connection):
            use(connection)
        case .opening(let future):
            future.assumeIsolated().whenComplete { result in
                switch result {
                case .success(let connection): self.use(connection)
                case .failure(let error):
                    self.upstream = .none
                    self.fail(error as? ProxyError ?? ProxyError(code: .connectFailed, detail: "\(target): \(error)"))
                }
            }
        }
    }

    /// A connection to `target` for one exchange: a stream on the endpoint's shared HTTP/2
    /// connection when its proxy takes HTTP/1 upgraded (`protocol_hint.h2`, and no protocol
    /// switch asked), else an idle pooled connection, else a new one.
    private func open(_ target: ConnectionTarget, endpoint: BalancedEndpoint?) -> EndpointConnector.Opening<HTTP1Connection> {
        if let endpoint, endpoint.endpoint.h2, exchange?.upgradeRequested != true, let upstreams = forwarding.http2Upstreams,
           let connection = upstreams.upstream(for: target, peer: endpoint.endpoint.meshPeer) {
            return .opening(openStream(on: connection))
        }
        if let pooled = forwarding.pool.take(target) {
            pooled.relay.attach(self)
            return .opened(pooled)
        }
        return .opening(dial(target, endpoint: endpoint))
    }

    /// A new HTTP/1 connection (over mesh TLS to an endpoint with an identity).
    private func dial(_ target: ConnectionTarget, endpoint: BalancedEndpoint?) -> EventLoopFuture<HTTP1Connection> {
        let eventLoop = context!.eventLoop
        let timeout = TimeAmount(forwarding.connectTimeout)
        let peer = forwarding.meshTLS.flatMap { client in endpoint?.endpoint.meshPeer.map { (client, $0) } }
        let relay = UpstreamRelay(forwarder: self)
        let built = NIOLoopBoundBox<HTTP1ClientHandlers?>(nil, eventLoop: eventLoop)
        let boundRelay = NIOLoopBound(relay, eventLoop: eventLoop)
        let tcp = endpointTCP(endpoint) ?? forwarding.tcp.destination
        let pool = forwarding.pool
        return ClientBootstrap.upstream(on: eventLoop, connectTimeout: timeout)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let (client, peer) = peer {
                        try client.secure(channel, peer: peer, handshakeTimeout: timeout)
                    }
                    built.value = try HTTP1ClientHandlers.install(on: sync)
                    try sync.addHandler(boundRelay.value)
                }
            }
            .connect(to: target)
            .flatMapErrorThrowing { error in throw ProxyError(connecting: target, failure: error, timeout: timeout) }
            .hop(to: eventLoop)
            .assumeIsolated()
            .map { channel in
                tcp.opened()
                channel.closeFuture.whenComplete { _ in tcp.closed() }
                pool.watch(channel, for: target)
                return HTTP1Connection(channel: channel, relay: relay, handlers: built.value, http2: nil)
            }
            .nonisolated()
    }

    /// One stream on the shared HTTP/2 connection to a meshed endpoint, carrying the request with
    /// `l5d-orig-proto: HTTP/1.1` so that its proxy hands it to the app as HTTP/1.1.
    private func openStream(on connection: HTTP2Upstream) -> EventLoopFuture<HTTP1Connection> {
        let eventLoop = context!.eventLoop
        let relay = NIOLoopBound(UpstreamRelay(forwarder: self), eventLoop: eventLoop)
        return connection.openStream { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                try stream.pipeline.syncOperations.addHandler(relay.value)
            }
        }.assumeIsolated().map { stream in
            connection.streamOpened()
            stream.closeFuture.assumeIsolated().whenComplete { _ in connection.streamClosed() }
            for (index, part) in self.held.enumerated() {
                if case .head(var head) = part {
                    head.headers.replaceOrAdd(name: MeshHeaders.originalProtocol, value: "HTTP/1.1")
                    self.held[index] = .head(head)
                }
            }
            return HTTP1Connection(channel: stream, relay: relay.value, handlers: nil, http2: connection)
        }.nonisolated()
    }

    /// Makes `connection` this exchange's upstream, sends it the request parts held meanwhile,
    /// and reads from the client again if a read was put off while there was none.
    private func use(_ connection: HTTP1Connection) {
        guard let context, context.channel.isActive else {
            connection.channel.close(promise: nil)
            return
        }
        upstream = .ready(connection)
        if endpoint != nil { dispatched = forwarding.clock.now() }
        for part in held { connection.channel.write(part, promise: nil) }
        dropHeld()
        connection.channel.flush()
        if pendingRead, connection.channel.isWritable {
            pendingRead = false
            context.read()
        }
    }

    /// Lets go of the upstream connection without treating its close as a failure.
    func retireUpstream() {
        guard let connection = upstream.connection else { return }
        upstream = .none
        connection.relay.detach()
        connection.channel.close(promise: nil)
    }

    /// After a complete exchange: a stream ends with it (its HTTP/2 connection stays for the
    /// next); a connection goes back to the pool for any client's next request to the same
    /// target, or is closed when it cannot be reused.
    func releaseUpstream(reusable: Bool) {
        guard let connection = upstream.connection else { return }
        guard connection.isStream || reusable, let target else {
            retireUpstream()
            return
        }
        upstream = .none
        connection.relay.detach()
        if !connection.isStream { forwarding.pool.put(connection, for: target) }
    }

    /// The `tcp_*` series of a connection to a discovered endpoint: its address, and `tls` and
    /// `server_id` when it is reached over mesh TLS (``TLSStatus/toEndpoint(_:proxyHasIdentity:)``).
    private func endpointTCP(_ endpoint: BalancedEndpoint?) -> TCPMetrics? {
        guard let registry = forwarding.registry, let endpoint else { return nil }
        let peer = forwarding.meshTLS == nil ? nil : endpoint.endpoint.meshPeer
        return TCPMetrics(registry: registry, direction: .outbound, peer: "dst", targetAddress: endpoint.target.description,
                          tls: .toEndpoint(peer, proxyHasIdentity: forwarding.meshTLS != nil), serverID: peer?.identity)
    }
}
