import Testing
import WeftAPI
import WeftCore
@testable import WeftController
import WeftStore

@Suite("Destination and policy decisions")
struct DiscoveryTests {
    static func snapshot(_ yaml: String) throws -> StoreSnapshot {
        var objects: [ResourceKey: Resource] = [:]
        for resource in try ManifestDecoder().decode(yaml, source: "test.yaml") { objects[ResourceKey(resource)] = resource }
        return StoreSnapshot(version: 1, objects: objects)
    }

    static func workload(_ name: String, ip: String, ready: Bool, labels: String = "app: web", ports: String = "[{port: 8080, name: http}]") -> String {
        """
        ---
        apiVersion: workload.linkerd.io/v1beta1
        kind: ExternalWorkload
        metadata: {name: \(name), namespace: shop, labels: {\(labels)}}
        spec:
          meshTLS: {identity: "spiffe://cluster.local/ns/shop/\(name)", serverName: "\(name).shop.cluster.local"}
          workloadIPs: [{ip: \(ip)}]
          ports: \(ports)
        status:
          conditions: [{type: Ready, status: "\(ready ? "True" : "False")"}]

        """
    }

    static let service = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: http}, {name: db, port: 5432, targetPort: 5432}]

        """

    @Test func parsesServiceAuthorities() throws {
        let authority = try ServiceAuthority(parsing: "Web.Shop.svc.cluster.local.:8080", clusterDomain: "cluster.local")
        #expect(authority == ServiceAuthority(service: "web", namespace: "shop", port: 8080))
        #expect(try ServiceAuthority(parsing: "web.shop.svc.cluster.local", clusterDomain: "cluster.local").port == 80)
        #expect(throws: ServiceAuthority.ParseFailure.address) { try ServiceAuthority(parsing: "10.1.2.3:80", clusterDomain: "cluster.local") }
        #expect(throws: ServiceAuthority.ParseFailure.address) { try ServiceAuthority(parsing: "[::1]:80", clusterDomain: "cluster.local") }
        for bad in ["web.shop.svc.other.local:80", "a.web.shop.svc.cluster.local:80", "shop.svc.cluster.local:80", "web.shop.svc.cluster.local:0",
                    "web.shop.svc.cluster.local:99999", ".shop.svc.cluster.local:80"] {
            #expect(throws: ServiceAuthority.ParseFailure.self, "\(bad)") { try ServiceAuthority(parsing: bad, clusterDomain: "cluster.local") }
        }
    }

    @Test func endpointsAreReadySelectedWorkloadsThatDocumentTheTargetPort() throws {
        let snapshot = try Self.snapshot(Self.service
            + Self.workload("web-1", ip: "127.0.0.11", ready: true)
            + Self.workload("web-2", ip: "127.0.0.12", ready: false)
            + Self.workload("web-3", ip: "127.0.0.13", ready: true, labels: "app: other")
            + Self.workload("web-4", ip: "127.0.0.14", ready: true, ports: "[{port: 9090, name: metrics}]")
            + Self.workload("web-5", ip: "127.0.0.15", ready: true, ports: "[{port: 8081, name: http}, {port: 5432}, {port: 4143, name: linkerd-proxy}]"))
        let resolver = EndpointResolver(clusterDomain: "cluster.local")
        guard case .endpoints(let http, let labels) = resolver.resolve(ServiceAuthority(service: "web", namespace: "shop", port: 80), in: snapshot) else {
            Issue.record("no endpoints")
            return
        }
        #expect(labels == ["service": "web", "namespace": "shop"])
        #expect(http.map { "\($0.address):\($0.port)" } == ["127.0.0.11:8080", "127.0.0.15:8081"])
        #expect(http[0].identity?.description == "spiffe://cluster.local/ns/shop/web-1" && http[0].serverName == "web-1.shop.cluster.local")
        #expect(!http[0].opaque && http[0].labels == ["external_workload": "web-1"])
        guard case .endpoints(let db, _) = resolver.resolve(ServiceAuthority(service: "web", namespace: "shop", port: 5432), in: snapshot) else {
            Issue.record("no endpoints")
            return
        }
        #expect(db.map(\.port) == [5432] && db[0].opaque && db[0].proxyInboundPort == 4143)
        #expect(resolver.resolve(ServiceAuthority(service: "nope", namespace: "shop", port: 80), in: snapshot) == .unknownService)
        #expect(resolver.resolve(ServiceAuthority(service: "web", namespace: "shop", port: 81), in: snapshot) == .endpoints([], labels: labels))
    }

    @Test func getStreamsTheWholeSetThenDifferences() throws {
        typealias Key = DestinationService.EndpointKey
        var sent: [Key: Io_Linkerd_Proxy_Destination_WeightedAddr]? = nil
        var sentNoEndpoints: Bool? = nil
        let resolver = EndpointResolver(clusterDomain: "cluster.local")
        let authority = ServiceAuthority(service: "web", namespace: "shop", port: 80)
        func updates(_ yaml: String) throws -> [Io_Linkerd_Proxy_Destination_Update] {
            DestinationService.updates(from: resolver.resolve(authority, in: try Self.snapshot(yaml)), sent: &sent, sentNoEndpoints: &sentNoEndpoints)
        }
        // Unknown first: no_endpoints{exists: false}, once.
        #expect(try updates("").map(\.noEndpoints.exists) == [false])
        #expect(try updates("").isEmpty)
        // Exists with none ready: no_endpoints{exists: true}.
        #expect(try updates(Self.service + Self.workload("web-1", ip: "127.0.0.11", ready: false)).map(\.noEndpoints.exists) == [true])
        let two = try updates(Self.service + Self.workload("web-1", ip: "127.0.0.11", ready: true) + Self.workload("web-2", ip: "127.0.0.12", ready: true))
        #expect(two.count == 1 && two[0].add.addrs.count == 2 && two[0].add.metricLabels["service"] == "web")
        #expect(two[0].add.addrs[0].tlsIdentity.uriLikeIdentity.uri == "spiffe://cluster.local/ns/shop/web-1")
        #expect(two[0].add.addrs[0].tlsIdentity.serverName.name == "web-1.shop.cluster.local")
        #expect(two[0].add.addrs[0].weight == 10_000 && two[0].add.addrs[0].protocolHint.h2 == .init())
        // One goes: a remove of exactly it.
        let one = try updates(Self.service + Self.workload("web-2", ip: "127.0.0.12", ready: true))
        #expect(one.count == 1 && one[0].remove.addrs.map(\.port) == [8080] && one[0].remove.addrs[0].ip.ipv4 == 0x7F00_000B)
        // The last goes: no_endpoints{exists: true}; then it comes back: the whole set again.
        #expect(try updates(Self.service).map(\.noEndpoints.exists) == [true])
        #expect(try updates(Self.service + Self.workload("web-2", ip: "127.0.0.12", ready: true)).first?.add.addrs.count == 1)
    }

    @Test func profilesComeFromServiceProfiles() throws {
        let yaml = Self.service + """
            ---
            apiVersion: linkerd.io/v1alpha2
            kind: ServiceProfile
            metadata: {name: web.shop.svc.cluster.local, namespace: shop}
            spec:
              routes:
              - name: GET /books
                condition: {method: GET, pathRegex: /books}
                isRetryable: true
                timeout: 300ms
                responseClasses: [{condition: {status: {min: 500, max: 599}}, isFailure: true}]
              dstOverrides: [{authority: "web-v2.shop.svc.cluster.local:80", weight: 500m}]
            """
        let profiles = ProfileResolver(clusterDomain: "cluster.local")
        let profile = profiles.profile(for: try profiles.target("web.shop.svc.cluster.local:80"), clientNamespace: nil, in: try Self.snapshot(yaml))
        #expect(profile.fullyQualifiedName == "web.shop.svc.cluster.local" && !profile.opaqueProtocol)
        #expect(profile.routes.count == 1 && profile.routes[0].metricsLabels == ["route": "GET /books"] && profile.routes[0].isRetryable)
        #expect(profile.routes[0].timeout.nanos == 300_000_000 && profile.routes[0].condition.all.matches.isEmpty)
        #expect(profile.routes[0].responseClasses[0].condition.status.min == 500 && profile.routes[0].responseClasses[0].isFailure)
        #expect(profile.dstOverrides.map(\.weight) == [5000] && profile.retryBudget.retryRatio == 0.2)
        let opaque = profiles.profile(for: try profiles.target("web.shop.svc.cluster.local:5432"), clientNamespace: nil, in: try Self.snapshot(yaml))
        #expect(opaque.opaqueProtocol)
        let byAddress = profiles.profile(for: try profiles.target("127.0.0.11:8080"), clientNamespace: nil,
                                         in: try Self.snapshot(yaml + "\n" + Self.workload("web-1", ip: "127.0.0.11", ready: true)))
        #expect(byAddress.hasEndpoint && byAddress.endpoint.addr.port == 8080 && byAddress.fullyQualifiedName.isEmpty)
        #expect(throws: (any Error).self) { try profiles.target("not a name") }
    }

    @Test func contextTokensAreReadLeniently() {
        #expect(ContextToken(parsing: "{\"ns\":\"shop\", \"nodeName\":\"n1\", \"pod\":\"web-1\"}\n").namespace == "shop")
        #expect(ContextToken(parsing: " {\"ns\":\"shop\",\"external_workload\":\"web-1\"} ").externalWorkload == "web-1")
        #expect(ContextToken(parsing: "ns:shop").namespace == "shop")
        #expect(ContextToken(parsing: "shop:web-1") == ContextToken(parsing: "{\"ns\":\"shop\",\"pod\":\"web-1\"}"))
        #expect(ContextToken(parsing: "garbage{").namespace == nil)
    }

    @Test func inboundPolicyIsTheDefaultOrTheSelectingServer() throws {
        let yaml = Self.workload("web-1", ip: "127.0.0.11", ready: true) + """
            ---
            apiVersion: policy.linkerd.io/v1beta2
            kind: Server
            metadata: {name: web-grpc, namespace: shop}
            spec:
              externalWorkloadSelector: {matchLabels: {app: web}}
              port: http
              proxyProtocol: gRPC
            """
        let builder = InboundPolicyBuilder(defaultPolicy: .allUnauthenticated)
        let spec = Io_Linkerd_Proxy_Inbound_PortSpec.with { $0.workload = "{\"ns\":\"shop\",\"external_workload\":\"web-1\"}"; $0.port = 8080 }
        let selected = try builder.server(for: spec, in: try Self.snapshot(yaml))
        // A gRPC Server without GRPCRoutes has the default route (every method).
        #expect(selected.protocol.grpc.routes.map(\.metadata.default) == ["default"])
        #expect(selected.labels["kind"] == "server" && selected.authorizations.isEmpty)
        var other = spec
        other.port = 9000
        let fallback = try builder.server(for: other, in: try Self.snapshot(yaml))
        #expect(fallback.protocol.detect.timeout.seconds == 10 && fallback.labels == ["group": "", "kind": "default", "name": "all-unauthenticated"])
        #expect(fallback.authorizations.count == 1 && fallback.authorizations[0].networks.count == 2)
        other.port = 3306
        #expect(try builder.server(for: other, in: try Self.snapshot(yaml)).protocol.opaque == .init())
        #expect(try InboundPolicyBuilder(defaultPolicy: .deny).server(for: other, in: try Self.snapshot(yaml)).authorizations.isEmpty)
        #expect(throws: (any Error).self) { try builder.server(for: .with { $0.workload = "nobody"; $0.port = 80 }, in: try Self.snapshot(yaml)) }
    }

    @Test func outboundPolicyRoutesToTheServiceBackend() throws {
        let builder = OutboundPolicyBuilder(clusterDomain: "cluster.local")
        let snapshot = try Self.snapshot(Self.service)
        let policy = try builder.policy(for: .with { $0.authority = "web.shop.svc.cluster.local:80" }, in: snapshot)
        let route = policy.protocol.detect.http1.routes[0]
        let backend = route.rules[0].backends.firstAvailable.backends[0].backend
        #expect(policy.metadata.resource.kind == "Service" && policy.metadata.resource.port == 80)
        #expect(backend.balancer.discovery.dst.path == "web.shop.svc.cluster.local:80")
        #expect(backend.balancer.peakEwma.defaultRtt.nanos == 30_000_000 && backend.balancer.peakEwma.decay.seconds == 10)
        #expect(backend.queue.capacity == 100 && backend.queue.failfastTimeout.seconds == 3)
        #expect(route.rules[0].matches[0].path.prefix == "/")
        let opaque = try builder.policy(for: .with { $0.authority = "web.shop.svc.cluster.local:5432" }, in: snapshot)
        #expect(opaque.protocol.opaque.routes.count == 1)
        #expect(throws: (any Error).self) { try builder.policy(for: .with { $0.authority = "nope.shop.svc.cluster.local:80" }, in: snapshot) }
    }
}
