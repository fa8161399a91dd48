import NIOHPACK
import NIOHTTP1

/// The proxy's own answer to a request it could not forward, the same for HTTP/1 and HTTP/2
/// (linkerd-compat: `l5d-proxy-error`): the error's status (502, 503, 504, …) with no body, or
/// for gRPC a trailers-only `200` with `grpc-status` and `grpc-message`.
struct SyntheticResponse {
    let status: Int
    /// Set for a gRPC request: the status carried in `grpc-status`.
    let grpcStatus: Int?
    let message: String
    /// A redirect's target.
    let location: String?

    init(_ error: ProxyError, isGRPC: Bool) {
        // A redirect is an HTTP answer whatever the request.
        let grpc = isGRPC && error.code != .redirected
        status = grpc ? 200 : Int(error.status.code)
        grpcStatus = grpc ? error.grpcStatus : nil
        message = error.message
        location = error.location
    }

    /// The headers besides the status, in order.
    private func fields(_ add: (String, String) -> Void) {
        if let grpcStatus {
            add("content-type", "application/grpc")
            add("grpc-status", String(grpcStatus))
            add("grpc-message", message)
        }
        if let location { add("location", location) }
        add("l5d-proxy-error", message)
    }

    /// As an HTTP/1.1 response head; the connection closes after it.
    var http1Head: HTTPResponseHead { http1Head(keepAlive: false) }

    /// As an HTTP/1.1 response head, saying whether the connection stays open after it.
    func http1Head(keepAlive: Bool) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        fields { headers.add(name: $0, value: $1) }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        if grpcStatus == nil { headers.add(name: "content-length", value: "0") }
        return HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
    }

    /// As one HTTP/2 HEADERS block ending the stream.
    var http2Headers: HPACKHeaders {
        var headers = HPACKHeaders()
        headers.add(name: ":status", value: String(status))
        fields { headers.add(name: $0, value: $1) }
        return headers
    }
}
