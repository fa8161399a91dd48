import NIOCore

/// Reads a connection's first bytes until ``ProtocolDetector`` decides, then hands the connection
/// to the next stage with those bytes and removes itself.
///
/// If nothing decisive arrives within the detect timeout, the connection is opaque (so a protocol
/// where the server speaks first works after the timeout).
final class ProtocolDetectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// Installs the next stage; called once on the event loop, with the bytes read so far.
    typealias Continuation = (ChannelHandlerContext, DetectedProtocol, ByteBuffer?) -> Void

    private var detector: ProtocolDetector
    private var buffered: ByteBuffer?
    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    private var continuation: Continuation?

    init(detectsTLS: Bool, timeout: TimeAmount, continuation: @escaping Continuation) {
        self.detector = ProtocolDetector(detectsTLS: detectsTLS)
        self.timeout = timeout
        self.continuation = continuation
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            let handler = loopBoundSelf.value
            handler.decide(context: loopBoundContext.value, handler.detector.timedOut())
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        let decision = detector.receive(bytes)
        if buffered == nil {
            buffered = bytes
        } else {
            buffered!.writeBuffer(&bytes)
        }
        if case .detected(let detected) = decision {
            decide(context: context, detected)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed, continuation != nil {
            // The client finished sending before a decision: what it sent is all there is. The
            // next stage is told after it has been installed.
            decide(context: context, detector.timedOut()) {
                context.fireUserInboundEventTriggered(event)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func decide(context: ChannelHandlerContext, _ detected: DetectedProtocol, then: (() -> Void)? = nil) {
        guard let continuation else { return }
        self.continuation = nil
        timer?.cancel()
        continuation(context, detected, buffered)
        buffered = nil
        then?()
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }
}
