import Logging
import NIOCore
import NIOSSL
import WeftCore

/// The inbound TLS stage: mesh TLS addressed to this proxy is terminated, the client's identity
/// taken from its verified certificate, and the connection goes on as plaintext — through
/// protocol detection, or (opaque transport to the inbound port itself) the transport header.
extension ForwardingStage {
    /// Terminates the mesh TLS of this connection, then detects the protocol inside it and goes on
    /// as for plaintext, knowing the client's identity. Without a certificate yet, the connection
    /// is closed: never served in plaintext instead.
    func installTLSTermination(after context: ChannelHandlerContext, bytes: ByteBuffer?) throws {
        guard let meshTLS, let sslContext = try meshTLS.context() else {
            throw ProxyError(code: .noTarget, detail: "mesh TLS, but no certificate yet")
        }
        let pipeline = context.pipeline.syncOperations
        let tls = NIOSSLServerHandler(context: sslContext)
        try pipeline.addHandler(tls, position: .after(context.handler))
        let handshake = TLSHandshakeTimeoutHandler(timeout: TimeAmount(detectTimeout))
        try pipeline.addHandler(handshake, position: .after(tls))
        var inner = self
        inner.terminatedTLS = true
        let logger = logger
        let boundTLS = NIOLoopBound(tls, eventLoop: context.eventLoop)
        /// The stage behind the TLS, knowing the client; nil (and the connection closed) when its
        /// certificate may not identify a workload.
        func identified(_ innerContext: ChannelHandlerContext, target: ConnectionTarget?) -> ForwardingStage? {
            var stage = inner
            stage.target = target
            switch MeshTLSServer.client(boundTLS.value.peerCertificate) {
            case .anonymous: stage.clientIdentity = nil
            case .identified(let identity): stage.clientIdentity = ClientIdentity(identity)
            case .refused(let reason):
                logger.info("mesh TLS client refused", metadata: ["reason": "\(reason)"])
                innerContext.closeBeneathTLS()
                return nil
            }
            stage.source = TCPMetrics(registry: inner.registry, direction: inner.direction, peer: "src",
                                      targetAddress: target?.description ?? "", tls: .established, clientID: stage.clientIdentity?.name)
            if stage.inboundPolicies != nil {
                stage.authorizationMetrics = AuthorizationMetrics(registry: inner.registry, targetAddress: target?.description ?? "")
            }
            return stage
        }
        if let directTargets {
            let local = context.channel.localAddress?.ipAddress
            let reader = TransportHeaderReader(timeout: TimeAmount(headerReadTimeout)) { innerContext, header, rest in
                let target = directTargets[header.port] ?? local.flatMap { try? SocketAddress(ipAddress: $0, port: Int(header.port)) }.map { .address($0) }
                guard let target, var stage = identified(innerContext, target: target) else { return }
                stage.policyPort = header.port
                guard stage.clientIdentity != nil else {
                    logger.info("opaque transport refused: the client has no identity")
                    innerContext.closeBeneathTLS()
                    return
                }
                logger.debug("opaque transport", metadata: ["port": "\(header.port)", "target": "\(target)", "client": "\(stage.clientIdentity?.name ?? "-")"])
                do {
                    try stage.installOpaque(on: innerContext.channel, position: .after(innerContext.handler), bytes: rest)
                } catch {
                    innerContext.close(promise: nil)
                }
            }
            try pipeline.addHandler(reader, position: .after(handshake))
            if let bytes { context.fireChannelRead(NIOAny(bytes)) }
            context.fireChannelReadComplete()
            return
        }
        let detection = ProtocolDetectionHandler(detectsTLS: false, timeout: TimeAmount(headerReadTimeout)) { innerContext, detected, plaintext in
            guard let stage = identified(innerContext, target: inner.target) else { return }
            logger.debug("terminated mesh TLS", metadata: ["protocol": "\(detected)", "client": "\(stage.clientIdentity?.name ?? "-")"])
            do {
                try stage.install(detected, after: innerContext, bytes: plaintext)
            } catch {
                logger.info("connection refused after TLS", metadata: ["error": "\(error)"])
                innerContext.close(promise: nil)
            }
        }
        try pipeline.addHandler(detection, position: .after(handshake))
        if let bytes { context.fireChannelRead(NIOAny(bytes)) }
        context.fireChannelReadComplete()
    }
}
