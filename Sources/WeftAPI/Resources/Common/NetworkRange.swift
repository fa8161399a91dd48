import WeftCore

/// A CIDR as written in a resource (`cidr: 10.0.0.0/8`), decoded into an ``IPNetwork``.
public struct CIDR: Hashable, Sendable, Codable, CustomStringConvertible {
    public let network: IPNetwork
    public let text: String

    /// Parses `address[/prefix]`, strictly: an address with bits set after the prefix
    /// (`1.2.3.4/24`) is refused rather than silently widened.
    public init(_ text: String) throws(IPNetwork.ParseError) {
        let network = try IPNetwork(parsing: text)
        if let slash = text.firstIndex(of: "/"), let address = IPAddress(String(text[..<slash])), address != network.address {
            throw IPNetwork.ParseError(input: text, reason: "host bits are set after the prefix (did you mean \(network)?)")
        }
        self.network = network
        self.text = text
    }

    public init(from decoder: any Decoder) throws {
        let raw = try RawScalar(from: decoder)
        do {
            try self.init(raw.text)
        } catch {
            throw FieldError(FieldPath(codingPath: decoder.codingPath), error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    public var description: String { text }
}

/// A network with exceptions: `{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}`.
public struct NetworkRange: Hashable, Sendable, Codable, Validatable {
    public var cidr: CIDR
    public var except: [CIDR]?

    public init(cidr: CIDR, except: [CIDR]? = nil) {
        self.cidr = cidr
        self.except = except
    }

    public func validate(at path: FieldPath, into v: inout Validation) {
        for (index, excluded) in (except ?? []).enumerated() where !cidr.network.contains(excluded.network) {
            v.fail(path / "except" / index, "\(excluded.text) is not inside \(cidr.text)")
        }
    }
}
