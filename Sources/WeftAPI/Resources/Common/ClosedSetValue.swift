/// A field that takes one of a fixed set of words (`proxyProtocol: HTTP/2`). Decoding an unknown
/// word names the word and every accepted one.
public protocol ClosedSetValue: RawRepresentable, CaseIterable, Codable, Hashable, Sendable where RawValue == String {}

extension ClosedSetValue {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: text) else {
            let allowed = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw FieldError(FieldPath(codingPath: decoder.codingPath), "unsupported value \"\(text)\" (one of: \(allowed))")
        }
        self = value
    }
}
