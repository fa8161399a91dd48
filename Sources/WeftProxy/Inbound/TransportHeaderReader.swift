import NIOCore
import NIOTLS
import WeftCore

/// Reads the transport header (linkerd-compat §1.8) at the start of a mesh-TLS connection to the
/// proxy's own inbound port: the client must have negotiated ALPN `transport.l5d.io/v1`, and
/// must send the header within the timeout; a wrong preface, an oversized or malformed header
/// closes the connection. Then `continuation` gets the header and the bytes after it, and the
/// reader leaves the pipeline.
final class TransportHeaderReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    typealias Continuation = (ChannelHandlerContext, TransportHeader, ByteBuffer?) -> Void

    private let timeout: TimeAmount
    private var continuation: Continuation?
    private var buffered: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var alpnAccepted = false

    init(timeout: TimeAmount, continuation: @escaping Continuation) {
        self.timeout = timeout
        self.continuation = continuation
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { bound.value.closeBeneathTLS() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let negotiated) = event {
            alpnAccepted = negotiated == TransportHeader.alpnProtocol
            if !alpnAccepted {
                context.closeBeneathTLS()
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard alpnAccepted, continuation != nil else {
            context.closeBeneathTLS()
            return
        }
        var bytes = unwrapInboundIn(data)
        if buffered == nil { buffered = bytes } else { buffered!.writeBuffer(&bytes) }
        do {
            guard let header = try TransportHeader.decode(from: &buffered!) else { return }
            let rest = buffered!.readableBytes > 0 ? buffered : nil
            buffered = nil
            timer?.cancel()
            let continuation = self.continuation!
            self.continuation = nil
            continuation(context, header, rest)
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        } catch {
            context.closeBeneathTLS()
        }
    }
}
