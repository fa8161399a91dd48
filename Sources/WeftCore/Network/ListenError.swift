#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// A listener that could not be opened, naming what it is for, its address and why:
/// `cannot listen for the admin server on 127.0.0.1:9990: Address already in use`.
public struct ListenError: Error, Sendable, CustomStringConvertible {
    /// What the listener is for ("the management API", "inbound").
    public let listener: String
    public let address: String
    public let reason: String

    public init(listener: String, address: String, reason: String) {
        self.listener = listener
        self.address = address
        self.reason = reason
    }

    /// From the error a bind failed with: a system error is named by its message (`strerror`).
    public init(listener: String, address: String, error: any Error) {
        let reason: String
        if let io = error as? IOError {
            reason = String(cString: strerror(io.errnoCode))
        } else {
            reason = "\(error)"
        }
        self.init(listener: listener, address: address, reason: reason)
    }

    public var description: String { "cannot listen for \(listener) on \(address): \(reason)" }
}
