import NIOCore
import NIOHTTP1
import NIOHTTP2

/// The first handler of an inbound HTTP/2 stream: decides, from the request's HEADERS, how the
/// stream is proxied. A request another proxy upgraded from HTTP/1 (`l5d-orig-proto`, linkerd-compat
/// §2.6) is turned back into HTTP/1.1 for the app (the header removed); any other stream is
/// relayed as HTTP/2. Then it leaves the pipeline.
final class OriginalProtocolSwitch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload

    private let relay: () -> any ChannelHandler
    private let forwarder: () -> any ChannelHandler
    private var decided = false

    /// - Parameters:
    ///   - relay: the HTTP/2 stream relay, for ordinary streams.
    ///   - forwarder: the HTTP/1 forwarder, put behind an HTTP/2-to-HTTP/1 codec, for upgraded ones.
    init(relay: @escaping () -> any ChannelHandler, forwarder: @escaping () -> any ChannelHandler) {
        self.relay = relay
        self.forwarder = forwarder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else {
            context.fireChannelRead(data)
            return
        }
        decided = true
        var payload = unwrapInboundIn(data)
        let pipeline = context.pipeline.syncOperations
        do {
            if case .headers(var headers) = payload, headers.headers.contains(name: MeshHeaders.originalProtocol) {
                headers.headers.remove(name: MeshHeaders.originalProtocol)
                payload = .headers(headers)
                let codec = HTTP2FramePayloadToHTTP1ServerCodec()
                try pipeline.addHandler(codec, position: .after(self))
                try pipeline.addHandler(forwarder(), position: .after(codec))
            } else {
                try pipeline.addHandler(relay(), position: .after(self))
            }
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(wrapInboundOut(payload))
        pipeline.removeHandler(self, promise: nil)
    }
}
