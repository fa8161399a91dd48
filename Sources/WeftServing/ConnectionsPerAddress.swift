import NIOCore
import Synchronization

/// How many connections each client address has open to one endpoint, with a bound: a host that
/// floods it (bad handshakes, connections it never uses) takes at most `limit`, and the others
/// are served meanwhile.
public final class ConnectionsPerAddress: Sendable {
    public let limit: Int
    private let open = Mutex<[String: Int]>([:])

    public init(limit: Int) {
        self.limit = limit
    }

    /// Counts `channel` against its client's address until it closes; false (and nothing counted)
    /// when that address has `limit` open already.
    public func admit(_ channel: Channel) -> Bool {
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        let admitted = open.withLock { counts -> Bool in
            guard counts[address, default: 0] < limit else { return false }
            counts[address, default: 0] += 1
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { _ in
                self.open.withLock { counts in
                    counts[address, default: 1] -= 1
                    if counts[address] == 0 { counts[address] = nil }
                }
            }
        }
        return admitted
    }
}
