import NIOCore
import Testing
import WeftAPI
import WeftCore

@Suite("Transport header codec")
struct TransportHeaderTests {
    static let preface = Array("transport.l5d.io/v1\r\n\r\n".utf8)

    @Test func knownEncoding() throws {
        var buffer = ByteBuffer()
        try TransportHeader(port: 4143, sessionProtocol: .http2).encode(into: &buffer)
        // port = 1 (varint 4143 = AF 20); session_protocol = 3 holding http2 = 2 (empty).
        let message: [UInt8] = [0x08, 0xAF, 0x20, 0x1A, 0x02, 0x12, 0x00]
        #expect(Self.preface.count == 23)
        #expect(Array(buffer.readableBytesView) == Self.preface + [0, 0, 0, UInt8(message.count)] + message)
    }

    @Test func decodesWithTrailingBytesLeftInPlace() throws {
        var buffer = ByteBuffer()
        try TransportHeader(port: 8080, name: "web.ns.svc.cluster.local", sessionProtocol: .http1).encode(into: &buffer)
        buffer.writeString("GET / HTTP/1.1\r\n")
        let header = try TransportHeader.decode(from: &buffer)
        #expect(header == TransportHeader(port: 8080, name: "web.ns.svc.cluster.local", sessionProtocol: .http1))
        #expect(buffer.readString(length: buffer.readableBytes) == "GET / HTTP/1.1\r\n")
    }

    @Test func needsMoreBytesAtEverySplitPoint() throws {
        var whole = ByteBuffer()
        try TransportHeader(port: 5432, name: "db").encode(into: &whole)
        let bytes = Array(whole.readableBytesView)
        for cut in 0..<bytes.count {
            var partial = ByteBuffer(bytes: bytes[..<cut])
            #expect(try TransportHeader.decode(from: &partial) == nil, "decoded from \(cut) of \(bytes.count) bytes")
            #expect(partial.readableBytes == cut, "consumed bytes while incomplete")
        }
        var complete = ByteBuffer(bytes: bytes)
        #expect(try TransportHeader.decode(from: &complete) == TransportHeader(port: 5432, name: "db"))
        #expect(complete.readableBytes == 0)
    }

    @Test(arguments: ["GET / HTTP/1.1\r\n", "\u{16}\u{03}\u{01}", "transport.l5d.io/v2\r\n\r\n", "t", "PRI * HTTP/2.0"])
    func refusesAWrongPrefaceAtOnce(text: String) throws {
        var buffer = ByteBuffer(string: text)
        let first = Array(text.utf8).first
        // A single correct first byte ("t") is still a possible preface: more is needed.
        if first == UInt8(ascii: "t") && text.count == 1 {
            #expect(try TransportHeader.decode(from: &buffer) == nil)
            return
        }
        #expect(throws: TransportHeaderError.self) { try TransportHeader.decode(from: &buffer) }
        do {
            _ = try TransportHeader.decode(from: &buffer)
        } catch {
            #expect(error.code == .badPreface)
        }
    }

    @Test func refusesAnOversizedLengthBeforeItsBody() {
        var buffer = ByteBuffer(bytes: Self.preface)
        buffer.writeInteger(UInt32(64 * 1024 + 1), endianness: .big)
        #expect(throws: TransportHeaderError(.messageTooLong, "length 65537 is over 65536")) {
            try TransportHeader.decode(from: &buffer)
        }
        var maximum = ByteBuffer(bytes: Self.preface)
        maximum.writeInteger(UInt32.max, endianness: .big)
        #expect(throws: TransportHeaderError.self) { try TransportHeader.decode(from: &maximum) }
    }

    static func framed(_ message: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer(bytes: preface)
        buffer.writeInteger(UInt32(message.count), endianness: .big)
        buffer.writeBytes(message)
        return buffer
    }

    @Test(arguments: [
        ([UInt8](), "port 0 is outside 1...65535"),
        ([0x08, 0x00], "port 0 is outside 1...65535"),
        ([0x08, 0x80, 0x80, 0x04], "port 65536 is outside 1...65535"),
        ([0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], "port -1 is outside 1...65535"),
    ])
    func refusesPortsOutOfRange(message: [UInt8], detail: String) {
        var buffer = Self.framed(message)
        #expect(throws: TransportHeaderError(.invalidPort, detail)) { try TransportHeader.decode(from: &buffer) }
    }

    @Test(arguments: [
        [0x08] as [UInt8],               // truncated varint
        [0x08, 0xAF],                    // truncated varint
        [0x12, 0x05, 0x61],              // name longer than the message
        [0x1A, 0x02, 0x12],              // truncated session protocol
        [0x0F, 0x00],                    // wire type 7 does not exist
    ])
    func refusesMalformedMessages(message: [UInt8]) {
        var buffer = Self.framed(message)
        do {
            _ = try TransportHeader.decode(from: &buffer)
            Issue.record("accepted \(message)")
        } catch {
            #expect(error.code == .malformedMessage)
        }
    }

    @Test func refusesBadNames() {
        for name in ["a b", "host/path", "user@host", "host:80", String(repeating: "a", count: 256), "\u{0}"] {
            var message = Transport_L5d_Io_Header()
            message.port = 80
            message.name = name
            var buffer = Self.framed(try! message.serializedBytes())
            do {
                _ = try TransportHeader.decode(from: &buffer)
                Issue.record("accepted name \(name.debugDescription)")
            } catch {
                #expect(error.code == .invalidName)
            }
            var out = ByteBuffer()
            #expect(throws: TransportHeaderError.self) { try TransportHeader(port: 80, name: name).encode(into: &out) }
        }
    }

    @Test func unknownFieldsAreIgnored() throws {
        // A later API version may add fields; field 9 (varint) is skipped.
        var buffer = Self.framed([0x08, 0x50, 0x48, 0x01])
        #expect(try TransportHeader.decode(from: &buffer) == TransportHeader(port: 80))
    }

    @Test func roundTripProperty() throws {
        var generator = SystemRandomNumberGenerator()
        let nameAlphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789.-")
        for _ in 0..<2_000 {
            let name: String? = Bool.random(using: &generator)
                ? String((0..<Int.random(in: 1...255, using: &generator)).map { _ in nameAlphabet.randomElement(using: &generator)! })
                : nil
            let session: TransportHeader.SessionProtocol? = [nil, .http1, .http2].randomElement(using: &generator)!
            let header = TransportHeader(port: UInt16.random(in: 1...65535, using: &generator), name: name, sessionProtocol: session)
            var encoded = ByteBuffer()
            try header.encode(into: &encoded)
            let tail = (0..<Int.random(in: 0...8, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let bytes = Array(encoded.readableBytesView) + tail
            // Feed it in random chunks, as reads from a socket would arrive.
            var buffer = ByteBuffer()
            var offset = 0
            var decoded: TransportHeader? = nil
            while decoded == nil {
                let chunk = min(Int.random(in: 1...64, using: &generator), bytes.count - offset)
                buffer.writeBytes(bytes[offset..<(offset + chunk)])
                offset += chunk
                decoded = try TransportHeader.decode(from: &buffer)
                if decoded == nil { #expect(offset < bytes.count) }
            }
            #expect(decoded == header)
            // Whatever arrived after the header stays in the buffer for the next stage.
            #expect(Array(buffer.readableBytesView) == Array(bytes[encoded.readableBytes..<offset]))
        }
    }
}
