#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Reads where a connection was going before iptables redirected it to the proxy.
enum OriginalDestination {
    /// `SO_ORIGINAL_DST` (IPv4) and `IP6T_SO_ORIGINAL_DST` (IPv6) from the Linux netfilter headers.
    static let optionName: CInt = 80

    /// The original destination, or `nil` when the connection was not redirected (no NAT entry) or
    /// the platform cannot tell.
    static func of(_ channel: Channel) -> EventLoopFuture<SocketAddress?> {
        #if os(Linux)
        guard let provider = channel as? SocketOptionProvider, let local = channel.localAddress else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        switch local.protocol {
        case .inet:
            let future: EventLoopFuture<sockaddr_in> = provider.unsafeGetSocketOption(
                level: NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_IP)), name: NIOBSDSocket.Option(rawValue: optionName))
            return future.map { address in
                var ip = address.sin_addr
                var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                guard inet_ntop(AF_INET, &ip, &text, socklen_t(text.count)) != nil else { return nil }
                return SocketAddress(address, host: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }.recover { _ in nil }
        case .inet6:
            let future: EventLoopFuture<sockaddr_in6> = provider.unsafeGetSocketOption(
                level: NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_IPV6)), name: NIOBSDSocket.Option(rawValue: optionName))
            return future.map { address in
                var ip = address.sin6_addr
                var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                guard inet_ntop(AF_INET6, &ip, &text, socklen_t(text.count)) != nil else { return nil }
                return SocketAddress(address, host: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }.recover { _ in nil }
        default:
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        #else
        return channel.eventLoop.makeSucceededFuture(nil)
        #endif
    }
}
