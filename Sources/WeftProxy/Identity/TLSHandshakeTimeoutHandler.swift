import NIOCore
import NIOSSL
import NIOTLS

/// Closes a connection whose TLS handshake has not completed within the timeout, so a peer that
/// stalls mid-handshake cannot hold a connection (and what is set up behind it) open. Sits after
/// the TLS handler; removes itself once the handshake is done.
final class TLSHandshakeTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            boundContext.value.closeBeneathTLS()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Passed on first: the handlers after this one (the peer identity check) need it too.
        context.fireUserInboundEventTriggered(event)
        if case TLSUserEvent.handshakeCompleted = event {
            timer?.cancel()
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
    }
}

extension ChannelHandlerContext {
    /// Closes the connection from below its TLS handler: a TLS close would first attempt an
    /// orderly shutdown (close_notify both ways) with a peer that may never answer.
    func closeBeneathTLS() {
        let below = try? pipeline.syncOperations.context(handlerType: NIOSSLHandler.self)
        (below ?? self).close(promise: nil)
    }
}
