/// A status condition, as in `metav1.Condition`.
public struct Condition: Hashable, Sendable, Codable, Validatable {
    public enum Status: String, ClosedSetValue {
        case `true` = "True"
        case `false` = "False"
        case unknown = "Unknown"
    }

    public var type: String
    public var status: Status
    public var reason: String?
    public var message: String?
    public var lastTransitionTime: String?
    public var lastProbeTime: String?
    public var observedGeneration: Int64?

    public init(type: String, status: Status, reason: String? = nil, message: String? = nil,
                lastTransitionTime: String? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastTransitionTime = lastTransitionTime
    }

    public func validate(at path: FieldPath, into v: inout Validation) {
        v.require(!type.isEmpty && type.utf8.count <= 316, path / "type", "must be 1 to 316 characters")
        if let message { v.require(message.utf8.count <= 32768, path / "message", "must be at most 32768 bytes") }
    }
}
