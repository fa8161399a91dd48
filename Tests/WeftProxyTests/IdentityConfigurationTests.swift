import Testing
import WeftIdentity
@testable import WeftProxy

@Suite("Identity configuration")
struct IdentityConfigurationTests {
    static let anchors: String = {
        let material = try! TrustMaterial.generate(trustDomain: "cluster.local")
        return try! material.anchor.serializeAsPEM().pemString
    }()

    static let complete: [String: String] = [
        "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS": anchors,
        "LINKERD2_PROXY_IDENTITY_LOCAL_NAME": "web.shop.serviceaccount.identity.linkerd.cluster.local",
        "LINKERD2_PROXY_IDENTITY_TOKEN_FILE": "/var/run/secrets/tokens/linkerd-identity-token",
        "LINKERD2_PROXY_IDENTITY_SVC_ADDR": "linkerd-identity-headless.linkerd.svc.cluster.local:8080",
        "LINKERD2_PROXY_IDENTITY_SVC_NAME": "linkerd-identity.linkerd.serviceaccount.identity.linkerd.cluster.local",
    ]

    @Test func offWithoutTrustAnchors() throws {
        #expect(try ProxyConfiguration(environment: [:]).identity == nil)
    }

    @Test func readsLinkerdsVariables() throws {
        let identity = try #require(try ProxyConfiguration(environment: Self.complete).identity)
        #expect(identity.localIdentity.description == "web.shop.serviceaccount.identity.linkerd.cluster.local")
        #expect(identity.serverName == identity.localIdentity.description)
        guard case .identityService(let service) = identity.provider else { Issue.record("not the identity service"); return }
        #expect(service.serviceHost == "linkerd-identity-headless.linkerd.svc.cluster.local" && service.servicePort == 8080)
        #expect(service.minimumRefresh == .seconds(10) && service.maximumRefresh == .seconds(86_400))
        #expect(identity.trustAnchors.count == 1 && service.keyAndCSR == nil)
    }

    @Test func serverIDAndNameForSPIFFE() throws {
        var environment = Self.complete
        environment["LINKERD2_PROXY_IDENTITY_LOCAL_NAME"] = nil
        environment["LINKERD2_PROXY_IDENTITY_SERVER_ID"] = "spiffe://root.linkerd.cluster.local/external-workload"
        environment["LINKERD2_PROXY_IDENTITY_SERVER_NAME"] = "external-workload.cluster.local"
        let identity = try #require(try ProxyConfiguration(environment: environment).identity)
        #expect(identity.localIdentity.description == "spiffe://root.linkerd.cluster.local/external-workload")
        #expect(identity.serverName == "external-workload.cluster.local")
    }

    @Test(arguments: [
        ("LINKERD2_PROXY_IDENTITY_SVC_ADDR", "no-port"),
        ("LINKERD2_PROXY_IDENTITY_SVC_ADDR", ":8080"),
        ("LINKERD2_PROXY_IDENTITY_LOCAL_NAME", "Web.Shop"),
        ("LINKERD2_PROXY_IDENTITY_MIN_REFRESH", "2d"),
        ("LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        ("LINKERD2_PROXY_IDENTITY_DIR", "/nonexistent"),
        ("LINKERD2_PROXY_IDENTITY_DISABLED", "1"),
    ])
    func refusesBadValuesNamingTheVariable(variable: String, value: String) {
        var environment = Self.complete
        environment[variable] = value
        do {
            _ = try ProxyConfiguration(environment: environment)
            Issue.record("\(variable)=\(value) was accepted")
        } catch {
            #expect(error.variable == variable)
        }
    }
}

@Suite("Outbound ports to meshed peers")
struct MeshedOutboundPortTests {
    @Test func readsThePeerIdentity() throws {
        var environment = IdentityConfigurationTests.complete
        environment["WEFT_PROXY_OUTBOUND_PORTS"] = "18080=127.0.0.3:14143@web.shop.serviceaccount.identity.linkerd.cluster.local,15432=db:5432"
        let config = try ProxyConfiguration(environment: environment)
        #expect(config.outboundPorts.map(\.peerIdentity) == ["web.shop.serviceaccount.identity.linkerd.cluster.local", nil])
        #expect(config.listenerRoles.compactMap(\.peerIdentity) == ["web.shop.serviceaccount.identity.linkerd.cluster.local"])
    }

    @Test(arguments: [
        // No identity of our own to prove.
        ([:], "18080=127.0.0.3:4143@web.shop.serviceaccount.identity.linkerd.cluster.local"),
        // SPIFFE IDs need a separate server name; uppercase is not a DNS-like identity.
        (IdentityConfigurationTests.complete, "18080=127.0.0.3:4143@spiffe://td/web"),
        (IdentityConfigurationTests.complete, "18080=127.0.0.3:4143@Web.Shop"),
    ])
    func refuses(base: [String: String], value: String) {
        var environment = base
        environment["WEFT_PROXY_OUTBOUND_PORTS"] = value
        #expect(throws: ConfigurationError.self) { try ProxyConfiguration(environment: environment) }
    }
}
