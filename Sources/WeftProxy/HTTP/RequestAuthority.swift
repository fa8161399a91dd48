import NIOHTTP1

/// The authority an HTTP/1 request is for, by RFC 9112 §3.2: the host of an absolute-form
/// request-target if there is one (its `Host` header is then ignored; on the way on the target
/// becomes origin-form and `Host` that authority, so the target sees the same), else the one
/// `Host` header.
struct RequestAuthority {
    /// `nil` for an HTTP/1.0 request without `Host`.
    var authority: String?
    /// The origin-form target, when the request came in absolute form.
    var originForm: String?

    /// The request's authority, or why the request is malformed: two `Host` headers, none on
    /// HTTP/1.1, or an absolute URI without a usable host.
    static func of(_ head: HTTPRequestHead) -> Result<RequestAuthority, ProxyError> {
        let hosts = head.headers["host"]
        if hosts.count > 1 {
            return .failure(ProxyError(code: .malformedRequest, detail: "more than one Host header"))
        }
        if let (authority, rest) = absoluteForm(head.uri) {
            if authority.isEmpty || authority.contains("@") {
                return .failure(ProxyError(code: .malformedRequest, detail: "absolute URI without a usable host"))
            }
            return .success(RequestAuthority(authority: authority, originForm: rest.hasPrefix("/") ? rest : "/" + rest))
        }
        if hosts.isEmpty, head.version.major == 1, head.version.minor >= 1 {
            return .failure(ProxyError(code: .malformedRequest, detail: "HTTP/1.1 request without Host"))
        }
        return .success(RequestAuthority(authority: hosts.first, originForm: nil))
    }

    /// The path (with its query) of a request-target, for route matching: origin-form as it is,
    /// absolute-form after its authority, anything else (`*`, an authority) as `/`.
    static func path(of uri: String) -> Substring {
        if uri.utf8.first == UInt8(ascii: "/") { return uri[...] }
        guard absoluteForm(uri) != nil, let scheme = uri.utf8.firstIndex(of: UInt8(ascii: ":")) else { return "/" }
        let afterScheme = uri.utf8.index(scheme, offsetBy: 3, limitedBy: uri.utf8.endIndex) ?? uri.utf8.endIndex
        guard let slash = uri.utf8[afterScheme...].firstIndex(of: UInt8(ascii: "/")) else { return "/" }
        return uri[slash...]
    }

    /// The authority and the rest (path, query, fragment) of an `http://` or `https://`
    /// request-target, or `nil` for other forms.
    private static func absoluteForm(_ uri: String) -> (authority: String, rest: String)? {
        let utf8 = uri.utf8
        let scheme: Int
        if utf8.starts(with: "http://".utf8, by: { $0 | 0x20 == $1 | 0x20 }) {
            scheme = 7
        } else if utf8.starts(with: "https://".utf8, by: { $0 | 0x20 == $1 | 0x20 }) {
            scheme = 8
        } else {
            return nil
        }
        let rest = uri.utf8.dropFirst(scheme)
        let end = rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? rest.endIndex
        return (String(uri[rest.startIndex..<end]), String(uri[end...]))
    }
}
