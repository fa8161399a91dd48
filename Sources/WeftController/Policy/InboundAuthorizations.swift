import WeftAPI
import WeftCore
import WeftPolicy
import WeftStore

/// The authorizations of one `Server`, as Linkerd's policy controller computes them: every
/// `AuthorizationPolicy` that targets the Server (or its Namespace) and whose required
/// authentications all exist, every `ServerAuthorization` that names or selects it, and what the
/// Server's v1beta3 `accessPolicy` grants (`deny` when unset). A policy whose references are
/// missing or contradictory grants nothing: policy fails closed.
struct InboundAuthorizations {
    let snapshot: StoreSnapshot
    let trustDomain: String

    /// At most this many authorizations per port; beyond, the rest are left out and logged by
    /// the caller (the proxy refuses more).
    static let limit = 1_000

    func forServer(_ server: Server) -> [Authorization] {
        let namespace = server.metadata.namespace ?? "default"
        let name = server.metadata.name ?? ""
        var result: [Authorization] = []
        for case .authorizationPolicy(let policy) in snapshot.list(kind: AuthorizationPolicy.kind, namespace: namespace) {
            let target = policy.spec.targetRef
            let group = target.group ?? ""
            let targetsServer = target.kind == "Server" && group == "policy.linkerd.io" && target.name == name
            let targetsNamespace = target.kind == "Namespace" && (group.isEmpty || group == "core") && target.name == namespace
            guard targetsServer || targetsNamespace, let authorization = authorization(policy) else { continue }
            result.append(authorization)
        }
        let serverLabels = server.metadata.labels ?? [:]
        for case .serverAuthorization(let authorization) in snapshot.list(kind: ServerAuthorization.kind, namespace: namespace) {
            let reference = authorization.spec.server
            let named = reference.name == name
            let selected = reference.selector?.matches(serverLabels) ?? false
            guard named || selected else { continue }
            result.append(self.authorization(authorization))
        }
        if let access = server.spec.accessPolicy, access != .deny,
           let policy = InboundPolicyBuilder.DefaultPolicy(rawValue: access.rawValue) {
            result += InboundPolicyBuilder.authorizations(policy)
        }
        return Array(result.prefix(Self.limit))
    }

    /// The authorizations of one inbound route: every AuthorizationPolicy that targets it (by
    /// kind and name, and group when the target names one) whose references all exist.
    func forRoute(group: String, kind: String, name: String, namespace: String) -> [Authorization] {
        var result: [Authorization] = []
        for case .authorizationPolicy(let policy) in snapshot.list(kind: AuthorizationPolicy.kind, namespace: namespace) {
            let target = policy.spec.targetRef
            guard target.kind == kind, target.name == name, (target.group ?? group) == group,
                  let authorization = authorization(policy) else { continue }
            result.append(authorization)
            if result.count == Self.limit { break }
        }
        return result
    }

    /// An AuthorizationPolicy's authorization: networks from its NetworkAuthentication (else
    /// every address), identities from its MeshTLSAuthentication or ServiceAccount (else none
    /// needed). Nil when a reference is missing, or two references say who the client is.
    private func authorization(_ policy: AuthorizationPolicy) -> Authorization? {
        let namespace = policy.metadata.namespace ?? "default"
        var networks: [Authorization.Network]?
        var authentication: Authorization.Authentication?
        for reference in policy.spec.requiredAuthenticationRefs {
            let referenceNamespace = reference.namespace ?? namespace
            switch reference.kind {
            case "NetworkAuthentication":
                guard networks == nil, case .networkAuthentication(let found)? =
                        snapshot[NetworkAuthentication.kind, referenceNamespace, reference.name] else { return nil }
                networks = found.spec.networks.map(Self.network)
            case "MeshTLSAuthentication":
                guard authentication == nil, case .meshTLSAuthentication(let found)? =
                        snapshot[MeshTLSAuthentication.kind, referenceNamespace, reference.name] else { return nil }
                authentication = meshTLS(found)
            case "ServiceAccount":
                guard authentication == nil, let identity = serviceAccount(reference.name, namespace: referenceNamespace) else { return nil }
                authentication = .meshTLS(identities: [identity], suffixes: [])
            default:
                return nil
            }
        }
        let name = policy.metadata.name ?? ""
        return Authorization(networks: networks ?? Authorization.Network.everywhere, authentication: authentication ?? .unauthenticated,
                             labels: ["group": "policy.linkerd.io", "kind": "authorizationpolicy", "name": name],
                             metadata: .resource(group: "policy.linkerd.io", kind: "AuthorizationPolicy", name: name))
    }

    /// A ServerAuthorization's client: its networks (else every address), unauthenticated, or
    /// mesh TLS with identities and ServiceAccounts. `unauthenticatedTLS` is held to any mesh
    /// identity: Weft admits no TLS client without one.
    private func authorization(_ authorization: ServerAuthorization) -> Authorization {
        let client = authorization.spec.client
        let namespace = authorization.metadata.namespace ?? "default"
        let authentication: Authorization.Authentication
        if client.unauthenticated == true {
            authentication = .unauthenticated
        } else if let tls = client.meshTLS {
            if tls.unauthenticatedTLS == true {
                authentication = .meshTLS(identities: [], suffixes: [[]])
            } else {
                var (identities, suffixes) = patterns(tls.identities ?? [])
                for account in tls.serviceAccounts ?? [] {
                    if let identity = serviceAccount(account.name, namespace: account.namespace ?? namespace) { identities.append(identity) }
                }
                authentication = .meshTLS(identities: identities, suffixes: suffixes)
            }
        } else {
            authentication = .meshTLS(identities: [], suffixes: [])
        }
        let name = authorization.metadata.name ?? ""
        return Authorization(networks: client.networks.map { $0.map(Self.network) } ?? Authorization.Network.everywhere,
                             authentication: authentication,
                             labels: ["group": "policy.linkerd.io", "kind": "serverauthorization", "name": name],
                             metadata: .resource(group: "policy.linkerd.io", kind: "ServerAuthorization", name: name))
    }

    private func meshTLS(_ authentication: MeshTLSAuthentication) -> Authorization.Authentication {
        var (identities, suffixes) = patterns(authentication.spec.identities ?? [])
        let namespace = authentication.metadata.namespace ?? "default"
        for reference in authentication.spec.identityRefs ?? [] {
            let referenceNamespace = reference.namespace ?? namespace
            switch (reference.kind, reference.name) {
            case ("ServiceAccount", let name?) where name != "*":
                if let identity = serviceAccount(name, namespace: referenceNamespace) { identities.append(identity) }
            case ("ServiceAccount", _):
                // Every ServiceAccount of the namespace.
                suffixes.append([referenceNamespace, "serviceaccount", "identity", "linkerd"] + trustDomain.split(separator: ".").map(String.init))
            case ("Namespace", let name):
                let names = name.map { $0 == "*" ? nil : $0 } ?? referenceNamespace
                if let names {
                    suffixes.append([names, "serviceaccount", "identity", "linkerd"] + trustDomain.split(separator: ".").map(String.init))
                } else {
                    suffixes.append([])
                }
            default:
                continue
            }
        }
        return .meshTLS(identities: identities, suffixes: suffixes)
    }

    /// Identity patterns as the proxy API carries them: `*` is the empty suffix, `*.a.b` the
    /// suffix `[a, b]`, anything else an exact name.
    private func patterns(_ texts: [String]) -> (identities: [String], suffixes: [[String]]) {
        var identities: [String] = []
        var suffixes: [[String]] = []
        for text in texts {
            switch try? IdentityPattern(parsing: text) {
            case .any?: suffixes.append([])
            case .suffix(let suffix)?: suffixes.append(suffix.split(separator: ".").map(String.init))
            case .exact(let identity)?: identities.append(identity.description)
            case nil: continue
            }
        }
        return (identities, suffixes)
    }

    private func serviceAccount(_ name: String, namespace: String) -> String? {
        (try? WorkloadIdentity.serviceAccount(name, namespace: namespace, trustDomain: trustDomain))?.description
    }

    private static func network(_ range: NetworkRange) -> Authorization.Network {
        Authorization.Network(net: range.cidr.network, except: (range.except ?? []).map(\.network))
    }
}
