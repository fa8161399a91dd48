import NIOCore
import NIOEmbedded
import Testing
@testable import WeftProxy

/// The detection handler in a pipeline: what it passes on, when, and that it leaves.
@Suite("Protocol detection handler")
struct ProtocolDetectionHandlerTests {
    final class Recorder {
        var detected: [DetectedProtocol] = []
        var bytes: [ByteBuffer?] = []
    }

    func makeChannel(timeout: TimeAmount = .seconds(10)) throws -> (EmbeddedChannel, Recorder) {
        let channel = EmbeddedChannel()
        let recorder = Recorder()
        try channel.pipeline.syncOperations.addHandler(ProtocolDetectionHandler(detectsTLS: true, timeout: timeout) { _, detected, bytes in
            recorder.detected.append(detected)
            recorder.bytes.append(bytes)
        })
        return (channel, recorder)
    }

    @Test func decidesOnceWithEveryByteReadSoFar() throws {
        let (channel, recorder) = try makeChannel()
        for piece in ["GET /a", "bc HTTP/1.", "1\r\n", "Host: x\r\n\r\n"] {
            try channel.writeInbound(ByteBuffer(string: piece))
        }
        #expect(recorder.detected == [.http1])
        // The bytes handed on are exactly those read until the decision, in order.
        #expect(recorder.bytes.first??.getString(at: 0, length: 19) == "GET /abc HTTP/1.1\r\n")
        #expect(recorder.bytes.first??.readableBytes == 19)
        // The handler has left the pipeline; later bytes pass straight through.
        #expect(throws: ChannelPipelineError.self) { try channel.pipeline.syncOperations.handler(type: ProtocolDetectionHandler.self) }
        try channel.writeInbound(ByteBuffer(string: "Host: x\r\n\r\n"))
        #expect(try channel.readInbound(as: ByteBuffer.self)?.readableBytes == 11)
        _ = try channel.finish()
    }

    @Test func silenceBecomesOpaqueAtTheTimeout() throws {
        let (channel, recorder) = try makeChannel(timeout: .milliseconds(300))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(299))
        #expect(recorder.detected.isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(recorder.detected == [.opaque])
        #expect(recorder.bytes == [nil])
        _ = try channel.finish()
    }

    final class EventRecorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var inputClosed = 0

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, event == .inputClosed { inputClosed += 1 }
        }
    }

    @Test func endOfInputDecidesWithWhatCame() throws {
        let (channel, recorder) = try makeChannel()
        let events = EventRecorder()
        try channel.pipeline.syncOperations.addHandler(events)
        try channel.writeInbound(ByteBuffer(string: "GET / HT"))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(recorder.detected == [.opaque])
        #expect(recorder.bytes.first??.readableBytes == 8)
        // The next stage still hears that the client finished, once.
        #expect(events.inputClosed == 1)
        _ = try channel.finish()
    }
}
