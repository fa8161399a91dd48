import NIOCore

/// Joins two channels so the bytes read on one are written to the other, without copies.
///
/// Backpressure: a side reads only while its partner is writable, so a slow reader slows the
/// writer instead of growing a buffer. Half-close: when one side's input ends (FIN), the partner's
/// output is closed; a channel closes fully once both of its directions are done. Closing either
/// channel closes the other.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    private var outputClosed = false
    /// The FIN has been sent (all queued writes went out first).
    private var outputFinished = false
    /// The partner channel has closed: this one closes as soon as its queued writes are out.
    private var partnerGone = false
    /// This side's peer metrics: bytes read here count as read from it.
    private let metrics: TCPMetrics?
    private var partnerMetrics: TCPMetrics?
    /// Marked when an I/O error ends the pair.
    private let outcome: ConnectionOutcome?

    private init(metrics: TCPMetrics?, outcome: ConnectionOutcome?) {
        self.metrics = metrics
        self.outcome = outcome
    }

    /// A linked pair: add the first to one channel and the second to the other. Bytes read on one
    /// side count as read from its peer and written to the other side's peer.
    static func matchedPair(first: TCPMetrics? = nil, second: TCPMetrics? = nil,
                            outcome: ConnectionOutcome? = nil) -> (GlueHandler, GlueHandler) {
        let firstHandler = GlueHandler(metrics: first, outcome: outcome)
        let secondHandler = GlueHandler(metrics: second, outcome: outcome)
        firstHandler.partner = secondHandler
        firstHandler.partnerMetrics = second
        secondHandler.partner = firstHandler
        secondHandler.partnerMetrics = first
        return (firstHandler, secondHandler)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    // Partner calls.

    private func partnerWrite(_ data: ByteBuffer) {
        context?.write(wrapOutboundOut(data), promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerInputClosed() {
        closeOutput()
    }

    /// Sends FIN once the writes already queued have gone out, then closes fully if the input has
    /// ended too. (A full close would drop queued writes.)
    private func closeOutput() {
        guard let context else { return }
        if outputClosed {
            if partnerGone && outputFinished { context.close(promise: nil) }
            return
        }
        outputClosed = true
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { [self] _ in
            outputFinished = true
            if partnerGone || inputClosed { self.context?.close(promise: nil) }
        }
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private func partnerClosed() {
        // Nothing more will come from the partner: deliver what is queued, then close.
        partnerGone = true
        closeOutput()
    }

    private var partnerWritable: Bool {
        context?.channel.isWritable ?? false
    }

    // Channel events.

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let count = UInt64(buffer.readableBytes)
        metrics?.readBytes.increment(by: count)
        partnerMetrics?.writeBytes.increment(by: count)
        partner?.partnerWrite(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerClosed()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            partner?.partnerInputClosed()
            if outputFinished { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        outcome?.markFailed()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
