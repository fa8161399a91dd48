import WeftCore
import WeftPolicy

/// Reads the proxy API's `inbound.Server` message by hand (the proxy links no protobuf runtime)
/// into ``ServerPolicy`` values. The proxy reads the protocol; authorizations and routes are not
/// enforced yet, so not read.
enum ServerPolicyWire {
    /// `Server { ProxyProtocol protocol = 1; … }`: the first arm of the protocol's oneof that is
    /// present (`detect` 1, `opaque` 2, `tls` 3, `http1` 4, `http2` 5, `grpc` 6).
    static func proxyProtocol(server bytes: [UInt8]) throws(ProtobufDecodingError) -> ServerPolicy.ProxyProtocol {
        var reader = ProtobufReader(bytes[...])
        var found: ServerPolicy.ProxyProtocol?
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            guard field == 1, wireType == 2 else {
                try reader.skip(wireType: wireType)
                continue
            }
            var proxyProtocol = try reader.message()
            while !proxyProtocol.isAtEnd {
                let (arm, armType) = try proxyProtocol.key()
                guard armType == 2 else {
                    try proxyProtocol.skip(wireType: armType)
                    continue
                }
                var body = try proxyProtocol.message()
                switch arm {
                case 1: found = .detect(timeout: try detectTimeout(&body))
                case 2: found = .opaque
                case 3: found = .tls
                case 4: found = .http1
                case 5: found = .http2
                case 6: found = .grpc
                default: continue
                }
            }
        }
        guard let found else { throw ProtobufDecodingError("a Server without a protocol") }
        return found
    }

    /// `Detect { google.protobuf.Duration timeout = 1; … }`, `Duration { int64 seconds = 1; int32 nanos = 2; }`.
    private static func detectTimeout(_ detect: inout ProtobufReader) throws(ProtobufDecodingError) -> Duration {
        var timeout = ServerPolicy.ProxyProtocol.defaultDetectTimeout
        while !detect.isAtEnd {
            let (field, wireType) = try detect.key()
            guard field == 1, wireType == 2 else {
                try detect.skip(wireType: wireType)
                continue
            }
            var duration = try detect.message()
            var (seconds, nanos): (Int64, Int64) = (0, 0)
            while !duration.isAtEnd {
                let (part, partType) = try duration.key()
                switch (part, partType) {
                case (1, 0): seconds = Int64(bitPattern: try duration.varint())
                case (2, 0): nanos = Int64(Int32(truncatingIfNeeded: try duration.varint()))
                default: try duration.skip(wireType: partType)
                }
            }
            guard seconds >= 0, seconds <= 86_400, nanos >= 0, nanos < 1_000_000_000 else {
                throw ProtobufDecodingError("a detect timeout of \(seconds) s \(nanos) ns")
            }
            timeout = .seconds(seconds) + .nanoseconds(nanos)
        }
        return timeout
    }
}
