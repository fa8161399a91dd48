import NIOCore

/// What the first bytes of a connection say it speaks.
public enum DetectedProtocol: Hashable, Sendable {
    /// The HTTP/2 connection preface (prior knowledge, h2c).
    case http2
    /// An HTTP/1.x request line.
    case http1
    /// A TLS ClientHello; `serverName` is its SNI when it has one.
    case tls(serverName: String?)
    /// Anything else, or nothing before the detect timeout.
    case opaque
}

/// Decides a connection's protocol from its first bytes, a read at a time.
///
/// A value-type state machine: feed it each read (`receive`) and it answers `.needMore` while the
/// bytes so far could still begin an HTTP/2 preface, an HTTP/1 request line or (when enabled) a
/// TLS record, and a decision as soon as they cannot or can only be one thing. At most
/// ``maximumBytes`` are examined (Linkerd's 1 KiB); the caller turns a timeout into ``timedOut()``.
public struct ProtocolDetector: Sendable {
    public enum Decision: Hashable, Sendable {
        case needMore
        case detected(DetectedProtocol)
    }

    /// The most bytes examined before deciding.
    public static let maximumBytes = 1024
    static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private var seen: [UInt8] = []
    private let detectsTLS: Bool
    private(set) var decision: Decision = .needMore

    /// `detectsTLS`: whether a TLS ClientHello is recognised (inbound) or treated as opaque bytes.
    public init(detectsTLS: Bool) {
        self.detectsTLS = detectsTLS
        seen.reserveCapacity(64)
    }

    /// Adds the bytes of one read and decides if it can.
    public mutating func receive(_ buffer: ByteBuffer) -> Decision {
        guard decision == .needMore else { return decision }
        let room = Self.maximumBytes - seen.count
        seen.append(contentsOf: buffer.readableBytesView.prefix(room))
        decision = classify(final: seen.count >= Self.maximumBytes)
        return decision
    }

    /// The detect timeout passed: decide with what has arrived.
    public mutating func timedOut() -> DetectedProtocol {
        if case .detected(let detected) = decision { return detected }
        let final = classify(final: true)
        guard case .detected(let detected) = final else { return .opaque }
        decision = final
        return detected
    }

    private func classify(final: Bool) -> Decision {
        if seen.isEmpty { return final ? .detected(.opaque) : .needMore }
        if detectsTLS, seen[0] == 0x16 {
            switch TLSClientHello.parseServerName(seen) {
            case .incomplete: return final ? .detected(.tls(serverName: nil)) : .needMore
            case .notClientHello: return .detected(.opaque)
            case .clientHello(let name): return .detected(.tls(serverName: name))
            }
        }
        let prefaceLength = min(seen.count, Self.http2Preface.count)
        if seen[..<prefaceLength].elementsEqual(Self.http2Preface[..<prefaceLength]) {
            if prefaceLength == Self.http2Preface.count { return .detected(.http2) }
            // "PRI * HTTP/2.0" could still turn out to be an HTTP/1 request for method PRI; wait.
            return final ? .detected(.opaque) : .needMore
        }
        switch HTTP1RequestLine.check(seen) {
        case .complete:
            return .detected(.http1)
        case .invalid:
            return .detected(.opaque)
        case .incomplete(let inTarget):
            // A request line still valid after 1 KiB (a long URL) is HTTP/1, as for Linkerd's
            // httparse-based detection; the HTTP parser's own limits then apply.
            if seen.count >= Self.maximumBytes && inTarget { return .detected(.http1) }
            return final ? .detected(.opaque) : .needMore
        }
    }
}

/// Checks that bytes begin with an HTTP/1.x request line: `METHOD SP target SP HTTP/1.d` and a
/// line end (CRLF, or a bare CR or LF, which the HTTP parser refuses later).
enum HTTP1RequestLine {
    enum Result: Equatable {
        case complete
        /// Valid so far; `inTarget` once the method and its space have been seen.
        case incomplete(inTarget: Bool)
        case invalid
    }

    static let maximumMethodLength = 32

    static func check(_ bytes: [UInt8]) -> Result {
        var index = 0
        // Method: 1+ token characters.
        while index < bytes.count, isToken(bytes[index]) { index += 1 }
        if index == bytes.count { return index <= maximumMethodLength ? .incomplete(inTarget: false) : .invalid }
        guard index > 0, index <= maximumMethodLength, bytes[index] == UInt8(ascii: " ") else { return .invalid }
        index += 1
        // Target: 1+ visible characters.
        let targetStart = index
        while index < bytes.count, bytes[index] > 0x20, bytes[index] < 0x7F { index += 1 }
        if index == bytes.count { return .incomplete(inTarget: true) }
        guard index > targetStart, bytes[index] == UInt8(ascii: " ") else { return .invalid }
        index += 1
        // Version and line end.
        let rest = Array("HTTP/1.".utf8)
        for expected in rest {
            if index == bytes.count { return .incomplete(inTarget: true) }
            guard bytes[index] == expected else { return .invalid }
            index += 1
        }
        if index == bytes.count { return .incomplete(inTarget: true) }
        guard bytes[index] == UInt8(ascii: "0") || bytes[index] == UInt8(ascii: "1") else { return .invalid }
        index += 1
        if index == bytes.count { return .incomplete(inTarget: true) }
        // A bare LF or CR ends the line too: the request is HTTP/1, and the HTTP parser then
        // refuses it with 400 rather than letting it through as opaque bytes to a lenient app.
        return bytes[index] == UInt8(ascii: "\r") || bytes[index] == UInt8(ascii: "\n") ? .complete : .invalid
    }

    static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}
