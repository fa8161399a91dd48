/// An IPv4 or IPv6 address, held the way the proxy API carries it: IPv4 as the four octets read
/// big-endian, IPv6 as two 64-bit halves read big-endian.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6(first: UInt64, last: UInt64)

    /// Parses dotted-quad IPv4 (no leading zeros, as Go since 1.17) or RFC 4291 IPv6 text
    /// (with `::` and an optional dotted-quad tail; no zone).
    public init?(_ text: String) {
        if let v4 = Self.parseIPv4(Substring(text)) {
            self = .v4(v4)
        } else if let (first, last) = Self.parseIPv6(text) {
            self = .v6(first: first, last: last)
        } else {
            return nil
        }
    }

    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as a dual-stack socket reports IPv4
    /// clients) as the IPv4 address it is; any other address as it is.
    public var unmappingIPv4: IPAddress {
        if case .v6(0, let last) = self, last >> 32 == 0xffff { return .v4(UInt32(truncatingIfNeeded: last)) }
        return self
    }

    /// The address's bits: 32 or 128.
    public var bitWidth: Int {
        switch self {
        case .v4: 32
        case .v6: 128
        }
    }

    /// The octets, network order.
    public var octets: [UInt8] {
        switch self {
        case .v4(let value):
            return (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
        case .v6(let first, let last):
            return (0..<8).map { UInt8(truncatingIfNeeded: first >> (56 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: last >> (56 - 8 * $0)) }
        }
    }

    public var description: String {
        switch self {
        case .v4:
            return octets.map(String.init).joined(separator: ".")
        case .v6:
            let bytes = octets
            let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
            // The longest run of two or more zero groups becomes "::" (RFC 5952).
            var best = (start: -1, length: 0)
            var index = 0
            while index < 8 {
                if groups[index] == 0 {
                    let start = index
                    while index < 8 && groups[index] == 0 { index += 1 }
                    if index - start > best.length && index - start >= 2 { best = (start, index - start) }
                } else {
                    index += 1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                groups[range].map { String($0, radix: 16) }.joined(separator: ":")
            }
            if best.start < 0 { return hex(0..<8) }
            return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
        }
    }

    private static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  part == "0" || part.first != "0", let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
        }
        return value
    }

    private static func parseIPv6(_ text: String) -> (UInt64, UInt64)? {
        guard text.utf8.count <= 45, text.contains(":") else { return nil }
        var groups: [UInt16] = []
        var tail: [UInt16] = []
        var halves = [Substring(text)]
        if let gap = text.firstRange(of: "::") {
            halves = [text[..<gap.lowerBound], text[gap.upperBound...]]
            guard !halves[1].contains("::") else { return nil }
        }
        func parseGroups(_ part: Substring, allowIPv4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, field) in fields.enumerated() {
                if allowIPv4Tail && index == fields.count - 1 && field.contains(".") {
                    guard let v4 = parseIPv4(field) else { return nil }
                    result.append(UInt16(v4 >> 16))
                    result.append(UInt16(v4 & 0xFFFF))
                    continue
                }
                guard (1...4).contains(field.count), field.allSatisfy(\.isHexDigit),
                      let group = UInt16(field, radix: 16) else { return nil }
                result.append(group)
            }
            return result
        }
        if halves.count == 2 {
            guard let head = parseGroups(halves[0], allowIPv4Tail: false),
                  let rest = parseGroups(halves[1], allowIPv4Tail: true),
                  head.count + rest.count <= 7 else { return nil }
            groups = head
            tail = rest
            groups += Array(repeating: 0, count: 8 - head.count - rest.count) + tail
        } else {
            guard let all = parseGroups(Substring(text), allowIPv4Tail: true), all.count == 8 else { return nil }
            groups = all
        }
        let first = groups[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let last = groups[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return (first, last)
    }
}
