import WeftCore

/// Where the proxy reads its inbound policies (linkerd-compat §2.2): the policy service, this
/// workload's name as the controller knows it, and the ports watched from the start.
public struct InboundPolicyConfiguration: Sendable {
    /// `LINKERD2_PROXY_POLICY_SVC_ADDR`.
    public var host: String
    public var port: Int
    /// `LINKERD2_PROXY_POLICY_SVC_NAME`: the policy service's identity; when set, the proxy
    /// reaches it over mutual TLS.
    public var serverName: String?
    /// `LINKERD2_PROXY_POLICY_WORKLOAD`, e.g. `{"ns":"shop","external_workload":"web-1"}`.
    public var workload: String
    /// `LINKERD2_PROXY_INBOUND_PORTS`, to which the ports of `WEFT_PROXY_INBOUND_PORTS` are added.
    public var ports: [UInt16]
    public var backoffMinimum: Duration
    public var backoffMaximum: Duration

    static func read(_ env: EnvironmentValues, boundPorts: [UInt16], backoff: (Duration, Duration)) throws(ConfigurationError) -> InboundPolicyConfiguration? {
        guard let address = env.text("LINKERD2_PROXY_POLICY_SVC_ADDR") else { return nil }
        guard let (host, port) = HostPort.split(address), let port else {
            throw ConfigurationError(variable: "LINKERD2_PROXY_POLICY_SVC_ADDR", value: address, expected: "host:port")
        }
        guard let workload = env.text("LINKERD2_PROXY_POLICY_WORKLOAD") else {
            throw ConfigurationError(variable: "LINKERD2_PROXY_POLICY_WORKLOAD", value: "",
                                     expected: "this workload's name for the policy service, e.g. {\"ns\":\"shop\",\"external_workload\":\"web-1\"}")
        }
        let listed = try env.ports("LINKERD2_PROXY_INBOUND_PORTS")
        var ports: [UInt16] = []
        for range in listed.ranges where range.count <= 1024 { ports += Array(range) }
        for port in boundPorts where !ports.contains(port) { ports.append(port) }
        return InboundPolicyConfiguration(host: host, port: Int(port), serverName: env.text("LINKERD2_PROXY_POLICY_SVC_NAME"), workload: workload, ports: ports,
                                          backoffMinimum: backoff.0, backoffMaximum: backoff.1)
    }
}
