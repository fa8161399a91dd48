import NIOCore
import NIOHTTP1

/// The HTTP/1 server handlers of an accepted connection, added by one named function that keeps
/// a handle on each, so that a protocol switch takes out exactly these (nobody else looks them
/// up by type).
struct HTTP1ServerHandlers {
    private let handlers: [RemovableChannelHandler]

    /// Adds, after `handler`: NIO's server pipeline (response encoder, request decoder bounded by
    /// ``HTTPLimits/decoder`` and paired with the encoder for HEAD responses, the pipelining
    /// handler so pipelined requests are answered in order, outbound header validation), then
    /// the request error handler and the head timeout.
    static func install(on pipeline: ChannelPipeline.SynchronousOperations, after handler: ChannelHandler,
                        headerReadTimeout: Duration) throws -> HTTP1ServerHandlers {
        try pipeline.configureHTTPServerPipeline(
            position: .after(handler), withPipeliningAssistance: true, withErrorHandling: false,
            withOutboundHeaderValidation: true, withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: HTTPLimits.decoder)
        // NIO's function adds these four and returns nothing: keep a handle on each now.
        var handlers: [RemovableChannelHandler] = [
            try pipeline.handler(type: HTTPResponseEncoder.self),
            try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self),
            try pipeline.handler(type: HTTPServerPipelineHandler.self),
            try pipeline.handler(type: NIOHTTPResponseHeadersValidator.self),
        ]
        for added in [HTTPRequestErrorHandler(), HTTPHeadTimeoutHandler(timeout: headerReadTimeout)] as [RemovableChannelHandler] {
            try pipeline.addHandler(added, position: .after(handlers[handlers.count - 1]))
            handlers.append(added)
        }
        return HTTP1ServerHandlers(handlers: handlers)
    }

    /// The last of them: the forwarder goes after it.
    var last: ChannelHandler { handlers[handlers.count - 1] }

    /// Takes them all out of `pipeline`.
    func remove(from pipeline: ChannelPipeline.SynchronousOperations) {
        for handler in handlers.reversed() { pipeline.removeHandler(handler, promise: nil) }
    }
}

/// The HTTP/1 client handlers of a connection to a target: a request encoder and a response
/// decoder that hands the bytes after a `101` on (they belong to the new protocol).
struct HTTP1ClientHandlers {
    let encoder: HTTPRequestEncoder
    let decoder: ByteToMessageHandler<HTTPResponseDecoder>

    static func install(on pipeline: ChannelPipeline.SynchronousOperations) throws -> HTTP1ClientHandlers {
        let handlers = HTTP1ClientHandlers(
            encoder: HTTPRequestEncoder(),
            decoder: ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes, informationalResponseStrategy: .forward)))
        try pipeline.addHandler(handlers.encoder)
        try pipeline.addHandler(handlers.decoder)
        return handlers
    }
}
