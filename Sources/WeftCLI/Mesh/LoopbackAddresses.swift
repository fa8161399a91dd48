import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Loopback addresses and ports for workloads meshed on one machine: every workload gets an
/// address of its own in 127.64.0.0/10 (chosen from its name, so it keeps it across restarts),
/// and its app a free port on 127.0.0.1.
enum LoopbackAddresses {
    /// An address for `namespace/name` that no other workload has and whose `ports` are free.
    static func workloadIP(namespace: String, name: String, taken: Set<String>, ports: [Int]) -> String? {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(namespace)/\(name)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        for attempt in 0..<4096 {
            let value = hash &+ UInt64(attempt) &* 0x9E37_79B9_7F4A_7C15
            let ip = "127.\(64 + value % 64).\((value >> 6) % 256).\(1 + (value >> 14) % 254)"
            if !taken.contains(ip), ports.allSatisfy({ canBind(ip: ip, port: $0) }) { return ip }
        }
        return nil
    }

    /// A port on 127.0.0.1 that nothing listens on now.
    static func freePort() -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in(ip: "127.0.0.1", port: 0)
        guard withUnsafePointer(to: &address, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }) == 0 else { return nil }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafeMutablePointer(to: &address, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }) == 0 else { return nil }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether a listener could bind `ip:port` now.
    static func canBind(ip: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in(ip: ip, port: port)
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }
}

extension sockaddr_in {
    init(ip: String, port: Int) {
        self.init()
        sin_family = sa_family_t(AF_INET)
        sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, ip, &sin_addr)
    }
}
