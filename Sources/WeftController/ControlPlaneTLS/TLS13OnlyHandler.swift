import GRPCNIOTransportHTTP2
import NIOCore
import WeftServing

/// Makes a gRPC server's TLS 1.3-only (the gRPC transport sets TLS 1.2 as its minimum and offers
/// no setting): placed before the TLS handler, it reads the client's first record and lets the
/// connection go on only if its ClientHello offers TLS 1.3 (`supported_versions` with 0x0304; the
/// server then always chooses it). Otherwise it answers a `protocol_version` alert and closes. At
/// most 16 KiB are held while it waits, and for at most 10 s (the transport has no handshake
/// timeout of its own): a client that has not sent its whole first record by then is closed.
final class TLS13OnlyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var held: ByteBuffer?
    private var deadline: Scheduled<Void>?

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(10)) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var earlier = held {
            earlier.writeBuffer(&bytes)
            bytes = earlier
        }
        switch Self.offersTLS13(bytes) {
        case nil where bytes.readableBytes < 16 * 1024:
            held = bytes
        case true?:
            held = nil
            context.fireChannelRead(wrapInboundOut(bytes))
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        default:
            held = nil
            // A TLS 1.2 record with a fatal protocol_version alert, then nothing.
            let alert = context.channel.allocator.buffer(bytes: [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46])
            context.writeAndFlush(NIOAny(alert)).whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// Whether the first TLS record holds a ClientHello offering TLS 1.3; nil until it is whole.
    static func offersTLS13(_ buffer: ByteBuffer) -> Bool? {
        let bytes = Array(buffer.readableBytesView)
        guard bytes.count >= 5 else { return nil }
        guard bytes[0] == 0x16, bytes[1] == 0x03 else { return false }
        let length = Int(bytes[3]) << 8 | Int(bytes[4])
        guard bytes.count >= 5 + length else { return nil }
        var reader = Reader(bytes: bytes[5..<(5 + length)])
        guard reader.byte() == 0x01, reader.skip(3), reader.skip(2 + 32),  // ClientHello, length, version, random
              let session = reader.byte(), reader.skip(Int(session)),
              let suites = reader.uint16(), reader.skip(Int(suites)),
              let compression = reader.byte(), reader.skip(Int(compression)),
              let extensionsLength = reader.uint16() else { return false }
        var extensions = Reader(bytes: reader.take(Int(extensionsLength)) ?? [])
        while let type = extensions.uint16(), let size = extensions.uint16(), let body = extensions.take(Int(size)) {
            guard type == 0x002b else { continue }
            var versions = Reader(bytes: body)
            guard let count = versions.byte(), let list = versions.take(Int(count)) else { return false }
            return stride(from: list.startIndex, to: list.endIndex - 1, by: 2).contains { list[$0] == 0x03 && list[$0 + 1] == 0x04 }
        }
        return false
    }

    private struct Reader {
        var bytes: ArraySlice<UInt8>

        init<C: Collection>(bytes: C) where C.Element == UInt8 {
            self.bytes = ArraySlice(bytes)
        }

        mutating func byte() -> UInt8? {
            bytes.popFirst()
        }

        mutating func uint16() -> UInt16? {
            guard let high = byte(), let low = byte() else { return nil }
            return UInt16(high) << 8 | UInt16(low)
        }

        mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard bytes.count >= count else { return nil }
            defer { bytes = bytes.dropFirst(count) }
            return bytes.prefix(count)
        }

        mutating func skip(_ count: Int) -> Bool {
            take(count) != nil
        }
    }
}

extension HTTP2ServerTransport.Posix.Config {
    /// Every accepted connection is counted against its client's address (at most 256 at once:
    /// a host flooding the service does not starve the others) and, with `tls13`, gets a
    /// ``TLS13OnlyHandler`` before its TLS handler.
    mutating func guardConnections(tls13: Bool) {
        let perAddress = ConnectionsPerAddress(limit: 256)
        channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
            guard perAddress.admit(channel) else { return channel.close() }
            return channel.eventLoop.makeCompletedFuture {
                if tls13 { try channel.pipeline.syncOperations.addHandler(TLS13OnlyHandler(), position: .first) }
            }
        }
    }
}
