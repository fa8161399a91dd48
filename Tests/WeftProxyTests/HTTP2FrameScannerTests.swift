import NIOCore
import Testing
@testable import WeftProxy

@Suite("HTTP/2 frame scanner")
struct HTTP2FrameScannerTests {
    static func frame(type: UInt8, payload: [UInt8]) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, 0, 0, 0, 0, 0] + payload
    }

    static func goAway(lastStream: UInt32, code: UInt32, debug: [UInt8] = []) -> [UInt8] {
        frame(type: 7, payload: withUnsafeBytes(of: lastStream.bigEndian, Array.init) + withUnsafeBytes(of: code.bigEndian, Array.init) + debug)
    }

    /// A connection's bytes: SETTINGS, a DATA frame whose payload looks like a GOAWAY header,
    /// an empty SETTINGS ack, a GOAWAY(NO_ERROR) with debug data, then GOAWAY(PROTOCOL_ERROR).
    static let stream: [UInt8] =
        frame(type: 4, payload: [0, 3, 0, 0, 0, 100])
        + frame(type: 0, payload: goAway(lastStream: 1, code: 9))
        + frame(type: 4, payload: [])
        + goAway(lastStream: 7, code: 0, debug: Array("bye".utf8))
        + goAway(lastStream: 0, code: 1)

    func scan(_ bytes: [UInt8], chunk: Int, client: Bool) -> [UInt32] {
        var scanner = HTTP2FrameScanner(skippingClientPreface: client)
        var found: [UInt32] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            found += scanner.scan(ByteBuffer(bytes: bytes[offset..<end])).map(\.errorCode)
            offset = end
        }
        return found
    }

    @Test(arguments: [1, 2, 3, 8, 9, 10, 17, 4096])
    func findsEveryGoAwayInAnySplit(chunk: Int) {
        // The GOAWAY-shaped bytes inside the DATA frame are payload, not a frame.
        #expect(scan(Self.stream, chunk: chunk, client: false) == [0, 1])
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        #expect(scan(preface + Self.stream, chunk: chunk, client: true) == [0, 1])
    }

    @Test func readsFromTheReaderIndex() {
        var buffer = ByteBuffer(bytes: [0xAA, 0xBB] + Self.goAway(lastStream: 3, code: 11))
        buffer.moveReaderIndex(forwardBy: 2)
        var scanner = HTTP2FrameScanner(skippingClientPreface: false)
        #expect(scanner.scan(buffer) == [.init(errorCode: 11)])
    }
}
