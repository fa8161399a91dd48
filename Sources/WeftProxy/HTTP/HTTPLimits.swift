import NIOHTTP1

/// Bounds on what one HTTP/1 message head may hold.
enum HTTPLimits {
    /// 64 KiB for the whole head (below NIO's 80 KiB default), 16 KiB per field, 1,000 fields.
    static let decoder: NIOHTTPDecoderLimitConfiguration = {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = 64 * 1024
        limits.maxHeaderFieldSize = 16 * 1024
        limits.maxHeaderFieldCount = 1_000
        return limits
    }()
}
