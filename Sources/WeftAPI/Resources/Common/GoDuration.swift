/// A duration written the way Go's `time.ParseDuration` reads it: `300ms`, `1m30s`, `1.5h`, `0`.
/// Negative durations are refused: no Weft or Linkerd field takes one.
public struct GoDuration: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The length in nanoseconds.
    public let nanoseconds: Int64
    /// The text as written.
    public let text: String

    public var duration: Duration { .nanoseconds(nanoseconds) }

    /// Parses Go duration syntax; returns the reason when it is not valid.
    public static func parse(_ text: String) -> Result<GoDuration, DurationError> {
        var rest = Substring(text)
        if rest.first == "+" { rest = rest.dropFirst() }
        if rest.first == "-" { return .failure(DurationError("duration \"\(text)\" must not be negative")) }
        if rest == "0" { return .success(GoDuration(nanoseconds: 0, text: text)) }
        if rest.isEmpty { return .failure(DurationError("duration is empty")) }
        let units: [(String, Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
        ]
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1, let value = Double(number) else {
                return .failure(DurationError("duration \"\(text)\" must be numbers with units, e.g. 300ms or 1m30s"))
            }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard let unit = units.first(where: { $0.0 == unitText }) else {
                let problem = unitText.isEmpty ? "is missing a unit" : "has unknown unit \"\(unitText)\""
                return .failure(DurationError("duration \"\(text)\" \(problem) (ns, us, ms, s, m, h)"))
            }
            rest = rest.dropFirst(unitText.count)
            total += value * unit.1
        }
        guard total < Double(Int64.max) else { return .failure(DurationError("duration \"\(text)\" is too long")) }
        return .success(GoDuration(nanoseconds: Int64(total.rounded()), text: text))
    }

    init(nanoseconds: Int64, text: String) {
        self.nanoseconds = nanoseconds
        self.text = text
    }

    public init(from decoder: any Decoder) throws {
        let raw = try RawScalar(from: decoder)
        switch Self.parse(raw.text) {
        case .success(let duration): self = duration
        case .failure(let error): throw FieldError(FieldPath(codingPath: decoder.codingPath), error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    public var description: String { text }

    /// Whether the text is in the Gateway API duration format (GEP-2257): one to four groups of
    /// up to five digits, each with a unit `h`, `m`, `s` or `ms` — `1h`, `1m30s`, `500ms`, `0s`.
    /// HTTPRoute timeouts use this stricter form.
    public var isGatewayAPIFormat: Bool {
        var rest = Substring(text)
        var groups = 0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard (1...5).contains(digits.count) else { return false }
            rest = rest.dropFirst(digits.count)
            if rest.hasPrefix("ms") {
                rest = rest.dropFirst(2)
            } else if let unit = rest.first, unit == "h" || unit == "m" || unit == "s" {
                rest = rest.dropFirst()
            } else {
                return false
            }
            groups += 1
        }
        return (1...4).contains(groups)
    }
}

/// Why a duration was refused.
public struct DurationError: Error, Hashable, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
}
