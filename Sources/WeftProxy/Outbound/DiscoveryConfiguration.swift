import WeftCore

/// How the proxy finds services (linkerd-compat §2.2): the destination service's address, the
/// context token it sends, which names it resolves through discovery, and how long idle
/// watches live.
public struct DiscoveryConfiguration: Sendable {
    /// `LINKERD2_PROXY_DESTINATION_SVC_ADDR`.
    public var host: String
    public var port: Int
    /// `LINKERD2_PROXY_DESTINATION_SVC_NAME`: the destination service's identity; when set, the
    /// proxy reaches it over mutual TLS (verifying that name, presenting its own certificate).
    public var serverName: String?
    /// `LINKERD2_PROXY_DESTINATION_CONTEXT`, sent as `context_token`.
    public var contextToken: String
    /// `LINKERD2_PROXY_DESTINATION_PROFILE_SUFFIXES` (`svc.cluster.local.`): names ending in one
    /// of these are resolved by the destination service; an empty suffix (`.`) means every name.
    public var suffixes: [String]
    /// `LINKERD2_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT` (5s): a service no request used for this
    /// long stops being watched.
    public var idleTimeout: Duration
    /// How long a request waits for a service's first endpoints before failing (the outbound
    /// queue's fail-fast timeout, `LINKERD2_PROXY_OUTBOUND_HTTP_QUEUE_FAILFAST_TIMEOUT`, 3s).
    public var failFastTimeout: Duration
    /// Reconnect backoff of watch streams (`LINKERD2_PROXY_CONTROL_EXP_BACKOFF_MIN/MAX`, 100ms / 2s).
    public var backoffMinimum: Duration
    public var backoffMaximum: Duration

    /// Whether a name is resolved by the destination service.
    public func handles(host: String) -> Bool {
        var name = host.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return suffixes.contains { $0.isEmpty || name == $0 || name.hasSuffix("." + $0) }
    }

    /// The `Get` path of a name: lowercased, without a trailing dot, with its port.
    static func path(host: String, port: UInt16) -> String {
        var name = host.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return "\(name):\(port)"
    }

    static func read(_ env: EnvironmentValues) throws(ConfigurationError) -> DiscoveryConfiguration? {
        guard let address = env.text("LINKERD2_PROXY_DESTINATION_SVC_ADDR") else { return nil }
        guard let (host, port) = HostPort.split(address), let port else {
            throw ConfigurationError(variable: "LINKERD2_PROXY_DESTINATION_SVC_ADDR", value: address, expected: "host:port")
        }
        let suffixText = env.text("LINKERD2_PROXY_DESTINATION_PROFILE_SUFFIXES") ?? "svc.cluster.local."
        let suffixes = suffixText.split(separator: ",").map { part -> String in
            var suffix = part.filter { $0 != " " }.lowercased()
            while suffix.hasPrefix(".") { suffix.removeFirst() }
            while suffix.hasSuffix(".") { suffix.removeLast() }
            return suffix
        }
        let minimum = try env.duration("LINKERD2_PROXY_CONTROL_EXP_BACKOFF_MIN", default: .milliseconds(100))
        let maximum = try env.duration("LINKERD2_PROXY_CONTROL_EXP_BACKOFF_MAX", default: .seconds(2))
        guard minimum > .zero, minimum <= maximum else {
            throw ConfigurationError(variable: "LINKERD2_PROXY_CONTROL_EXP_BACKOFF_MIN", value: env.text("LINKERD2_PROXY_CONTROL_EXP_BACKOFF_MIN") ?? "",
                                     expected: "a duration above 0 and no longer than LINKERD2_PROXY_CONTROL_EXP_BACKOFF_MAX")
        }
        return DiscoveryConfiguration(
            host: host, port: Int(port), serverName: env.text("LINKERD2_PROXY_DESTINATION_SVC_NAME"), contextToken: env.text("LINKERD2_PROXY_DESTINATION_CONTEXT") ?? "",
            suffixes: suffixes,
            idleTimeout: try env.duration("LINKERD2_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT", default: .seconds(5)),
            failFastTimeout: try env.duration("LINKERD2_PROXY_OUTBOUND_HTTP_QUEUE_FAILFAST_TIMEOUT", default: .seconds(3)),
            backoffMinimum: minimum, backoffMaximum: maximum)
    }
}
