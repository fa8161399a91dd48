import NIOCore
import Testing
@testable import WeftProxy
import WeftTesting

@Suite("Protocol detection")
struct ProtocolDetectorTests {
    static let http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    /// Feeds `bytes` in chunks of `chunk` bytes, returning the first decision (or nil).
    func detect(_ bytes: [UInt8], chunk: Int, tls: Bool = false) -> DetectedProtocol? {
        var detector = ProtocolDetector(detectsTLS: tls)
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            if case .detected(let detected) = detector.receive(ByteBuffer(bytes: bytes[offset..<end])) { return detected }
            offset = end
        }
        return nil
    }

    @Test(arguments: [1, 2, 3, 7, 24, 1024])
    func http2PrefaceInAnySplit(chunk: Int) {
        #expect(detect(Array((Self.http2Preface + "\0\0\0\u{4}").utf8), chunk: chunk) == .http2)
        // A partial preface is not yet a decision.
        #expect(detect(Array(Self.http2Preface.utf8.prefix(23)), chunk: chunk) == nil)
    }

    @Test(arguments: [1, 2, 5, 16, 1024])
    func http1RequestLineInAnySplit(chunk: Int) {
        for line in ["GET / HTTP/1.1\r\n", "POST /api/vote?x=1 HTTP/1.0\r\nHost: a\r\n\r\n", "PRI /x HTTP/1.1\r\n",
                     "OPTIONS * HTTP/1.1\r\n", "CONNECT example.com:443 HTTP/1.1\r\n", "M-SEARCH * HTTP/1.1\r\n",
                     // Bare line ends are HTTP/1 too (the HTTP parser then refuses them with 400).
                     "GET / HTTP/1.1\n", "GET / HTTP/1.1\rX"] {
            #expect(detect(Array(line.utf8), chunk: chunk) == .http1, "\(line.debugDescription)")
        }
        #expect(detect(Array("GET / HTTP/1.1".utf8), chunk: chunk) == nil)
        #expect(detect(Array("GET / HTT".utf8), chunk: chunk) == nil)
    }

    @Test(arguments: [
        "SSH-2.0-OpenSSH_9.2\r\n", "\u{0}\u{0}\u{0}\u{1}", "GET  / HTTP/1.1\r\n", "GET / HTTP/2.0\r\n",
        "GET\t/ HTTP/1.1\r\n", "get / http/1.1\r\n", "PRI * HTTP/2.1\r\n", "HELO example.com\r\n", "\r\n", " GET / HTTP/1.1\r\n",
    ])
    func otherBytesAreOpaque(text: String) {
        #expect(detect(Array(text.utf8), chunk: 1) == .opaque, "\(text.debugDescription)")
    }

    @Test func aLongMethodIsOpaque() {
        #expect(detect(Array((String(repeating: "A", count: 33) + " / HTTP/1.1\r\n").utf8), chunk: 1) == .opaque)
    }

    @Test func decisionWithinOneKibibyte() {
        // A request line still valid after 1 KiB (a long URL) is HTTP/1, as Linkerd decides.
        var detector = ProtocolDetector(detectsTLS: false)
        let long = Array(("GET /" + String(repeating: "a", count: 2000)).utf8)
        #expect(detector.receive(ByteBuffer(bytes: long)) == .detected(.http1))
        // 1 KiB that never leaves the method is not.
        var noTarget = ProtocolDetector(detectsTLS: false)
        #expect(noTarget.receive(ByteBuffer(bytes: Array(repeating: UInt8(ascii: "A"), count: 2000))) == .detected(.opaque))
        // Split into small reads, the decision comes at the 1 KiB mark.
        var split = ProtocolDetector(detectsTLS: false)
        var decision = ProtocolDetector.Decision.needMore
        for chunk in stride(from: 0, to: long.count, by: 100) where decision == .needMore {
            decision = split.receive(ByteBuffer(bytes: long[chunk..<min(chunk + 100, long.count)]))
        }
        #expect(decision == .detected(.http1))
    }

    @Test func timeoutDecidesWithWhatArrived() {
        var silent = ProtocolDetector(detectsTLS: true)
        #expect(silent.timedOut() == .opaque)
        var partial = ProtocolDetector(detectsTLS: false)
        #expect(partial.receive(ByteBuffer(string: "GET / HT")) == .needMore)
        #expect(partial.timedOut() == .opaque)
        var decided = ProtocolDetector(detectsTLS: false)
        _ = decided.receive(ByteBuffer(string: "GET / HTTP/1.1\r\n"))
        #expect(decided.timedOut() == .http1)
    }

    static func clientHello(serverName: String?) -> [UInt8] { TLSRecords.clientHello(serverName: serverName) }

    @Test(arguments: [1, 7, 100, 1024])
    func tlsClientHelloWithSNI(chunk: Int) {
        let hello = Self.clientHello(serverName: "web.ns.serviceaccount.identity.linkerd.cluster.local")
        #expect(detect(hello, chunk: chunk, tls: true) == .tls(serverName: "web.ns.serviceaccount.identity.linkerd.cluster.local"))
        #expect(detect(Self.clientHello(serverName: nil), chunk: chunk, tls: true) == .tls(serverName: nil))
        // Outbound does not look for TLS: the same bytes are opaque.
        #expect(detect(hello, chunk: chunk, tls: false) == .opaque)
    }

    @Test func hostileTLSRecords() {
        // Cut inside the server name (the 7-byte supported_versions extension follows it).
        var truncated = Self.clientHello(serverName: "a.example")
        truncated.removeLast(12)
        var detector = ProtocolDetector(detectsTLS: true)
        #expect(detector.receive(ByteBuffer(bytes: truncated)) == .needMore)
        #expect(detector.timedOut() == .tls(serverName: nil))
        for bad: [UInt8] in [[0x16, 0x02], [0x16, 0x03, 0x01, 0xFF, 0xFF], [0x16, 0x03, 0x01, 0x00, 0x10, 0x02],
                             [0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x05]] {
            #expect(detect(bad, chunk: 1, tls: true) == .opaque, "\(bad)")
        }
        // A name with a control byte is not a server name.
        var control = Self.clientHello(serverName: "a\u{1}b")
        #expect(detect(control, chunk: 1024, tls: true) == .opaque)
        control = []
        // Random bytes after a handshake header never trap.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let bytes = [0x16, 0x03, 0x01] + (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var fuzz = ProtocolDetector(detectsTLS: true)
            _ = fuzz.receive(ByteBuffer(bytes: bytes))
            _ = fuzz.timedOut()
        }
    }
}
