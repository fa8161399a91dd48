/// A configuration variable whose value cannot be used. Start-up stops with this message.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The environment variable.
    public let variable: String
    /// The value found.
    public let value: String
    /// The accepted form.
    public let expected: String

    public init(variable: String, value: String, expected: String) {
        self.variable = variable
        self.value = value
        self.expected = expected
    }

    public var description: String {
        "invalid \(variable)=\"\(value)\": expected \(expected)"
    }
}
