/// A Kubernetes quantity such as `1`, `500m`, `0.5`, `2k` or `1Ki`, held as thousandths.
/// Used for ServiceProfile traffic-split weights.
public struct Quantity: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The value times 1000, rounded up as Kubernetes' `MilliValue` does.
    public let milliValue: Int64
    /// The text as written.
    public let text: String

    /// Parses quantity syntax; `nil` when it is not valid or does not fit.
    public init?(parsing text: String) {
        var rest = Substring(text)
        var negative = false
        if rest.first == "+" || rest.first == "-" {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1,
              let mantissa = Double(number) else { return nil }
        let suffix = rest.dropFirst(number.count)
        let multiplier: Double
        switch suffix {
        case "": multiplier = 1
        case "n": multiplier = 1e-9
        case "u": multiplier = 1e-6
        case "m": multiplier = 1e-3
        case "k": multiplier = 1e3
        case "M": multiplier = 1e6
        case "G": multiplier = 1e9
        case "T": multiplier = 1e12
        case "P": multiplier = 1e15
        case "E": multiplier = 1e18
        case "Ki": multiplier = 1024
        case "Mi": multiplier = 1_048_576
        case "Gi": multiplier = 1_073_741_824
        case "Ti": multiplier = 1_099_511_627_776
        case "Pi": multiplier = 1_125_899_906_842_624
        case "Ei": multiplier = 1_152_921_504_606_846_976
        default:
            guard let first = suffix.first, first == "e" || first == "E" else { return nil }
            var digits = suffix.dropFirst()
            let negativeExponent = digits.first == "-"
            if digits.first == "+" || digits.first == "-" { digits = digits.dropFirst() }
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let exponent = Int(digits) else { return nil }
            multiplier = pow10(negativeExponent ? -exponent : exponent)
        }
        let milli = (mantissa * multiplier * 1000).rounded(.up)
        guard milli.isFinite, milli < 9.2e18 else { return nil }
        self.milliValue = negative ? -Int64(milli) : Int64(milli)
        self.text = text
    }

    public init(from decoder: any Decoder) throws {
        let raw = try RawScalar(from: decoder)
        guard let quantity = Quantity(parsing: raw.text) else {
            throw FieldError(FieldPath(codingPath: decoder.codingPath),
                             "\"\(raw.text)\" is not a quantity (e.g. 1, 500m, 0.5, 2k)")
        }
        self = quantity
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    public var description: String { text }
}

private func pow10(_ exponent: Int) -> Double {
    var result = 1.0
    for _ in 0..<abs(exponent) { result *= 10 }
    return exponent < 0 ? 1 / result : result
}
