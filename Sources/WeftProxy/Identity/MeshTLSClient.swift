import NIOCore
import NIOSSL
import NIOTLS
import WeftCore
import WeftIdentity
import X509

/// Who a meshed peer must be: the identity its certificate must name (a DNS-like name, or a
/// SPIFFE ID), and the server name to ask for in SNI.
struct MeshPeer: Hashable, Sendable {
    let identity: String
    let serverName: String
}

/// Originates mesh TLS to a peer proxy: TLS 1.3 only, this proxy's current certificate as the
/// client certificate, the peer's chain verified against the trust anchors, and its identity
/// checked exactly (``PeerIdentityCheck``) before any byte of the client's is sent.
public final class MeshTLSClient: Sendable {
    private let contexts: MeshTLSContexts
    private let transportContexts: MeshTLSContexts

    init(credentials: CredentialStore, anchors: [Certificate]) throws {
        contexts = try MeshTLSContexts(side: .client, credentials: credentials, anchors: anchors)
        transportContexts = try MeshTLSContexts(side: .transportClient, credentials: credentials, anchors: anchors)
    }

    /// Adds TLS to a new connection to `peer`, which must finish the handshake within
    /// `handshakeTimeout`; handlers added after these write through the identity check.
    /// - Parameter transportHeader: offer ALPN `transport.l5d.io/v1` (opaque transport to the
    ///   peer's inbound port); the connection is refused if the peer does not choose it.
    func secure(_ channel: Channel, peer: MeshPeer, handshakeTimeout: TimeAmount, transportHeader: Bool = false) throws {
        guard let context = try (transportHeader ? transportContexts : contexts).current() else { throw ProxyError(code: .connectFailed, detail: "no certificate yet for mesh TLS") }
        let tls = try NIOSSLClientHandler(context: context, serverHostname: peer.serverName)
        try channel.pipeline.syncOperations.addHandler(tls)
        try channel.pipeline.syncOperations.addHandler(TLSHandshakeTimeoutHandler(timeout: handshakeTimeout))
        try channel.pipeline.syncOperations.addHandler(PeerIdentityCheck(expected: peer.identity, requiresTransportALPN: transportHeader))
    }
}

/// Holds everything written to a peer until the TLS handshake is done and the peer's
/// certificate names exactly the expected identity (a DNS SAN equal to a DNS-like identity, or a
/// URI SAN equal to a SPIFFE ID, byte for byte: no wildcards, no case folding, no prefix or
/// suffix); otherwise closes the connection, so nothing is sent to the wrong peer.
final class PeerIdentityCheck: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Mismatch: Error, CustomStringConvertible {
        let expected: String
        let presented: [String]
        /// Why its certificate cannot identify a workload at all, if that is the case.
        var problem: String?
        var description: String {
            if let problem { return "the peer's certificate cannot identify \(expected): \(problem)" }
            return "the peer is not \(expected) (its certificate names \(presented))"
        }
    }

    private let expected: String
    private let requiresTransportALPN: Bool
    private var held: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var flushHeld = false
    /// A half-close (the client finished sending) asked for before the handshake: it must follow
    /// the held bytes, not overtake them.
    private var heldHalfClose: (pending: Bool, promise: EventLoopPromise<Void>?) = (false, nil)

    init(expected: String, requiresTransportALPN: Bool = false) {
        self.expected = expected
        self.requiresTransportALPN = requiresTransportALPN
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        held.append((unwrapOutboundIn(data), promise))
    }

    func flush(context: ChannelHandlerContext) {
        flushHeld = true
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .output {
            heldHalfClose = (true, promise)
            return
        }
        context.close(mode: mode, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let negotiated) = event {
            if requiresTransportALPN, negotiated != TransportHeader.alpnProtocol {
                let error = Mismatch(expected: expected, presented: [], problem: "the peer did not accept ALPN \(TransportHeader.alpnProtocol)")
                for (_, promise) in held { promise?.fail(error) }
                held.removeAll()
                context.fireErrorCaught(error)
                context.closeBeneathTLS()
                return
            }
            let leaf = Self.peerLeaf(context: context)
            let presented = Self.names(of: leaf, uris: expected.hasPrefix("spiffe://"))
            let problem = leaf.map { PeerCertificateRules.problem($0) } ?? "no certificate"
            guard problem == nil, presented.contains(expected) else {
                let error = Mismatch(expected: expected, presented: presented, problem: problem)
                for (_, promise) in held { promise?.fail(error) }
                held.removeAll()
                context.fireErrorCaught(error)
                context.closeBeneathTLS()
                return
            }
            for (buffer, promise) in held { context.write(wrapOutboundOut(buffer), promise: promise) }
            held.removeAll()
            if flushHeld || heldHalfClose.pending { context.flush() }
            if heldHalfClose.pending { context.close(mode: .output, promise: heldHalfClose.promise) }
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private static func peerLeaf(context: ChannelHandlerContext) -> Certificate? {
        guard let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self),
              let certificate = tls.peerCertificate, let der = try? certificate.toDERBytes() else { return nil }
        return try? Certificate(derEncoded: der)
    }

    /// The certificate's DNS SANs, or its URI SANs.
    private static func names(of certificate: Certificate?, uris: Bool) -> [String] {
        guard let names = try? certificate?.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            switch name {
            case .dnsName(let value) where !uris: value
            case .uniformResourceIdentifier(let value) where uris: value
            default: nil
            }
        }
    }
}
