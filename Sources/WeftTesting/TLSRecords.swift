/// TLS records as clients send them, for tests and microbenchmarks of protocol detection.
public enum TLSRecords {
    /// A TLS 1.3 ClientHello record as openssl s_client sends it, with `serverName` as its SNI
    /// (none when nil). Random and session id are fixed bytes.
    public static func clientHello(serverName: String?) -> [UInt8] {
        var extensions: [UInt8] = []
        if let serverName {
            let name = Array(serverName.utf8)
            let entry: [UInt8] = [0] + be16(name.count) + name
            let list = be16(entry.count) + entry
            extensions += [0, 0] + be16(list.count) + list
        }
        extensions += [0x00, 0x2B, 0x00, 0x03, 0x02, 0x03, 0x04]            // supported_versions: TLS 1.3
        var hello: [UInt8] = [0x03, 0x03] + Array(repeating: 0xAB, count: 32) // legacy version, random
        hello += [32] + Array(repeating: 0xCD, count: 32)                      // session id
        hello += be16(4) + [0x13, 0x01, 0x13, 0x03]                            // cipher suites
        hello += [1, 0]                                                        // compression
        hello += be16(extensions.count) + extensions
        let handshake: [UInt8] = [1] + [0] + be16(hello.count) + hello
        return [0x16, 0x03, 0x01] + be16(handshake.count) + handshake
    }

    /// `value` as two big-endian bytes.
    private static func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
}
