import NIOHTTP2

extension HTTP2Frame.FramePayload {
    /// Whether this frame carries END_STREAM.
    var endsStream: Bool {
        switch self {
        case .headers(let headers): headers.endStream
        case .data(let data): data.endStream
        default: false
        }
    }
}
