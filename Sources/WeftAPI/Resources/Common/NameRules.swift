/// The naming rules of Kubernetes and the Gateway API. Each check returns `nil` when the text is
/// valid, or the message to show after the field path.
public enum NameRules {
    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isLabel(_ bytes: some Collection<UInt8>) -> Bool {
        guard let first = bytes.first, let last = bytes.reversed().first, bytes.count <= 63 else { return false }
        return isLowerAlphanumeric(first) && isLowerAlphanumeric(last)
            && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// An RFC 1123 label: a namespace name, a Service name.
    public static func dnsLabel(_ text: String) -> String? {
        isLabel(text.utf8) ? nil
            : "\"\(text)\" must be a lowercase RFC 1123 label (a-z, 0-9 and '-', at most 63 characters, starting and ending with a letter or digit)"
    }

    /// An RFC 1123 subdomain: most object names.
    public static func dnsSubdomain(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        let ok = !bytes.isEmpty && bytes.count <= 253
            && bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy { isLabel($0) }
        return ok ? nil
            : "\"\(text)\" must be a lowercase RFC 1123 subdomain (labels of a-z, 0-9 and '-' joined by '.', at most 253 characters)"
    }

    /// A label or annotation key: `[prefix/]name`, the prefix a subdomain, the name at most 63
    /// characters of `[A-Za-z0-9-_.]` starting and ending alphanumeric.
    public static func labelKey(_ text: String) -> String? {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let name = parts.count == 2 ? parts[1] : parts[0]
        if parts.count == 2, dnsSubdomain(String(parts[0])) != nil {
            return "key \"\(text)\" has an invalid prefix: it must be a DNS subdomain"
        }
        guard !name.isEmpty, qualifiedNamePart(Array(name.utf8)) else {
            return "key \"\(text)\" must be at most 63 characters of a-z, A-Z, 0-9, '-', '_' and '.', starting and ending with a letter or digit (with an optional DNS subdomain prefix and '/')"
        }
        return nil
    }

    /// A label value: empty, or like the name part of a key.
    public static func labelValue(_ text: String) -> String? {
        text.isEmpty || qualifiedNamePart(Array(text.utf8)) ? nil
            : "value \"\(text)\" must be empty or at most 63 characters of a-z, A-Z, 0-9, '-', '_' and '.', starting and ending with a letter or digit"
    }

    private static func qualifiedNamePart(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first, let last = bytes.last, bytes.count <= 63 else { return false }
        return isAlphanumeric(first) && isAlphanumeric(last)
            && bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// An IANA service name, as a named port: at most 15 characters of `[a-z0-9-]` with at least
    /// one letter, no leading, trailing or doubled '-'.
    public static func portName(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        let ok = !bytes.isEmpty && bytes.count <= 15
            && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
            && bytes.contains { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }
            && bytes.first != UInt8(ascii: "-") && bytes.last != UInt8(ascii: "-")
            && !text.contains("--")
        return ok ? nil
            : "port name \"\(text)\" must be at most 15 characters of a-z, 0-9 and '-', with at least one letter and no leading, trailing or doubled '-'"
    }

    /// An HTTP header name (an RFC 7230 token), at most 256 characters.
    public static func headerName(_ text: String) -> String? {
        let tokenPunctuation = Array("!#$%&'*+-.^_`|~".utf8)
        let bytes = Array(text.utf8)
        let ok = !bytes.isEmpty && bytes.count <= 256
            && bytes.allSatisfy { isAlphanumeric($0) || tokenPunctuation.contains($0) }
        return ok ? nil : "header name \"\(text.prefix(64))\" must be 1 to 256 characters of an HTTP token"
    }

    /// An HTTP header value: no CR, LF or NUL, at most 4096 bytes.
    public static func headerValue(_ text: String) -> String? {
        let ok = text.utf8.count <= 4096
            && !text.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
        return ok ? nil : "header value must be at most 4096 bytes with no CR, LF or NUL"
    }

    /// A route hostname: a DNS name, optionally starting with `*.`; never an IP address.
    public static func hostname(_ text: String) -> String? {
        var name = Substring(text)
        if name.hasPrefix("*.") { name = name.dropFirst(2) }
        if dnsSubdomain(String(name)) == nil, !name.split(separator: ".").allSatisfy({ $0.allSatisfy(\.isNumber) }) {
            return nil
        }
        return "hostname \"\(text)\" must be a lowercase DNS name, optionally starting with \"*.\", and not an IP address"
    }
}
