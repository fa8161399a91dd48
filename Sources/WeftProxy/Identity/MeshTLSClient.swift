import NIOCore
import NIOSSL
import NIOTLS
import WeftIdentity
import X509

/// Originates mesh TLS to a peer proxy: TLS 1.3 only, this proxy's current certificate as the
/// client certificate, the peer's chain verified against the trust anchors, and its identity
/// checked exactly (``PeerIdentityCheck``) before any byte of the client's is sent.
public final class MeshTLSClient: Sendable {
    private let contexts: MeshTLSContexts

    init(credentials: CredentialStore, anchors: [Certificate]) throws {
        contexts = try MeshTLSContexts(side: .client, credentials: credentials, anchors: anchors)
    }

    /// Adds TLS to a new connection to a peer that must be `identity` (also its SNI) and must
    /// finish the handshake within `handshakeTimeout`.
    func secure(_ channel: Channel, peerIdentity identity: String, handshakeTimeout: TimeAmount) throws {
        guard let context = try contexts.current() else { throw ProxyError(code: .connectFailed, detail: "no certificate yet for mesh TLS") }
        let tls = try NIOSSLClientHandler(context: context, serverHostname: identity)
        try channel.pipeline.syncOperations.addHandler(tls)
        try channel.pipeline.syncOperations.addHandler(TLSHandshakeTimeoutHandler(timeout: handshakeTimeout))
        try channel.pipeline.syncOperations.addHandler(PeerIdentityCheck(expected: identity))
    }
}

/// Holds everything written to a peer until the TLS handshake is done and the peer's
/// certificate names exactly the expected identity (a DNS SAN equal to it, byte for byte: no
/// wildcards, no case folding, no prefix or suffix); otherwise closes the connection, so nothing
/// is sent to the wrong peer.
final class PeerIdentityCheck: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Mismatch: Error, CustomStringConvertible {
        let expected: String
        let presented: [String]
        var description: String { "the peer is not \(expected) (its certificate names \(presented))" }
    }

    private let expected: String
    private var held: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var flushHeld = false

    init(expected: String) {
        self.expected = expected
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        held.append((unwrapOutboundIn(data), promise))
    }

    func flush(context: ChannelHandlerContext) {
        flushHeld = true
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            let presented = Self.dnsNames(context: context)
            guard presented.contains(expected) else {
                let error = Mismatch(expected: expected, presented: presented)
                for (_, promise) in held { promise?.fail(error) }
                held.removeAll()
                context.fireErrorCaught(error)
                context.close(promise: nil)
                return
            }
            for (buffer, promise) in held { context.write(wrapOutboundOut(buffer), promise: promise) }
            held.removeAll()
            if flushHeld { context.flush() }
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private static func dnsNames(context: ChannelHandlerContext) -> [String] {
        guard let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self),
              let certificate = tls.peerCertificate, let der = try? certificate.toDERBytes(),
              let parsed = try? Certificate(derEncoded: der), let names = try? parsed.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { if case .dnsName(let name) = $0 { name } else { nil } }
    }
}
