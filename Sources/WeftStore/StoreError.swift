/// Why the store refused or failed an operation. Turned into an API answer only at the edge.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The objects do not pass validation (the message has every problem).
        case invalid
        /// A write named a `resourceVersion` that is no longer the object's.
        case conflict
        case notFound
        /// The disk is full: nothing was changed, reads still work.
        case storageFull
        /// Any other I/O failure: nothing acknowledged was lost.
        case storageFailed
        /// A watch asked for a resource version older than the store still remembers.
        case gone
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
