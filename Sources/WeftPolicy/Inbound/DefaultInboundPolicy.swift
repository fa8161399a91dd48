/// Linkerd's default inbound policies: what a port admits when no `Server` selects it — the
/// controller's `--default-inbound-policy`, a workload's or Namespace's
/// `config.linkerd.io/default-inbound-policy`, or a proxy's `LINKERD2_PROXY_INBOUND_DEFAULT_POLICY`
/// when it has no policy service.
public enum DefaultInboundPolicy: String, Sendable, CaseIterable {
    case allUnauthenticated = "all-unauthenticated"
    case allAuthenticated = "all-authenticated"
    case clusterUnauthenticated = "cluster-unauthenticated"
    case clusterAuthenticated = "cluster-authenticated"
    case deny
    /// Everyone admitted, and what another policy would have refused logged and counted.
    case audit

    /// The authorizations the policy grants. The `cluster-*` policies admit every network: a
    /// standalone mesh has no cluster networks to narrow them to.
    public var authorizations: [Authorization] {
        let authentication: Authorization.Authentication
        switch self {
        case .deny:
            return []
        case .allUnauthenticated, .clusterUnauthenticated, .audit:
            authentication = .unauthenticated
        case .allAuthenticated, .clusterAuthenticated:
            authentication = .meshTLS(identities: [], suffixes: [[]])
        }
        return [Authorization(networks: Authorization.Network.everywhere, authentication: authentication,
                              labels: ["group": "", "kind": "default", "name": rawValue], metadata: .default(rawValue))]
    }

    /// The whole policy of a port under this default: detection, these authorizations, the
    /// default route.
    public var serverPolicy: ServerPolicy {
        ServerPolicy(proxyProtocol: .detect(timeout: ServerPolicy.ProxyProtocol.defaultDetectTimeout), authorizations: authorizations,
                     httpRoutes: [.default], labels: ["group": "", "kind": "default", "name": rawValue])
    }
}
