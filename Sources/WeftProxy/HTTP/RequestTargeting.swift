import WeftCore

/// Where each HTTP request of a connection goes.
enum RequestTargeting: Sendable {
    /// Every request goes to the connection's target.
    case connection(ConnectionTarget)
    /// Ingress mode (`LINKERD2_PROXY_INGRESS_MODE`): each request names its target with
    /// `l5d-dst-override`, or else its authority (`Host` / `:authority`, port 80 when absent).
    case ingress

    /// The header that names a request's target in ingress mode.
    static let overrideHeader = "l5d-dst-override"

    /// The target of a request with these header values; `nil` when ingress mode finds none.
    func target(override: String?, authority: String?) -> ConnectionTarget? {
        switch self {
        case .connection(let target):
            return target
        case .ingress:
            guard let text = override ?? authority, !text.isEmpty,
                  let (host, port) = HostPort.split(text) else { return nil }
            return .name(host: host, port: port ?? 80)
        }
    }
}
