import GRPCCore
import Testing
import WeftAPI
import WeftCore
@testable import WeftController
import WeftStore

@Suite("Discovery by IP and the control plane's callers")
struct ControlPlaneCallerTests {
    static let dnsWorkload = """
        apiVersion: workload.linkerd.io/v1beta1
        kind: ExternalWorkload
        metadata: {name: vm-1, namespace: shop, labels: {app: web}}
        spec:
          meshTLS: {identity: "web.shop.serviceaccount.identity.linkerd.cluster.local", serverName: "web.shop.serviceaccount.identity.linkerd.cluster.local"}
          workloadIPs: [{ip: 10.9.0.2}, {ip: "fd00::2"}]
          ports: [{port: 8080, name: http}]
        status:
          conditions: [{type: Ready, status: "True"}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec:
          clusterIP: 10.96.0.10
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: http}]

        """
    static let caller = ControlPlaneCaller(identity: "web.shop.serviceaccount.identity.linkerd.cluster.local")

    @Test func anAddressResolvesToItsWorkloadOrItsServicesEndpointsOrNothing() throws {
        let snapshot = try DiscoveryTests.snapshot(Self.dnsWorkload)
        let resolver = EndpointResolver(clusterDomain: "cluster.local")
        guard case .endpoints(let own, _) = resolver.resolve(IPAddress("10.9.0.2")!, port: 8080, in: snapshot) else {
            Issue.record("the workload's address is not resolved")
            return
        }
        #expect(own.map(\.port) == [8080])
        #expect(own.first?.identity?.description == "web.shop.serviceaccount.identity.linkerd.cluster.local")
        // Either of a dual-stack workload's addresses.
        guard case .endpoints(let v6, _) = resolver.resolve(IPAddress("fd00::2")!, port: 8080, in: snapshot) else {
            Issue.record("the workload's IPv6 address is not resolved")
            return
        }
        #expect(v6.first?.address == IPAddress("fd00::2"))
        // The cluster IP is the Service: its port 80 leads to the workload's 8080.
        guard case .endpoints(let service, let labels) = resolver.resolve(IPAddress("10.96.0.10")!, port: 80, in: snapshot) else {
            Issue.record("the cluster IP is not resolved")
            return
        }
        #expect(service.map { "\($0.address) \($0.port)" } == ["fd00::2 8080"])  // dual stack: IPv6 first
        #expect(labels["service"] == "web")
        #expect(resolver.resolve(IPAddress("10.9.0.99")!, port: 8080, in: snapshot) == .unknownService)
    }

    @Test func getUpdatesOfAnUnknownAddressSayItDoesNotExist() throws {
        var sent: [DestinationService.EndpointKey: Io_Linkerd_Proxy_Destination_WeightedAddr]?
        var sentNoEndpoints: Bool?
        let updates = DestinationService.updates(from: .unknownService, sent: &sent, sentNoEndpoints: &sentNoEndpoints)
        #expect(updates.count == 1 && updates.first?.noEndpoints.exists == false)
    }

    @Test func plaintextCallersAreReadLenientlyAsBefore() throws {
        let snapshot = try DiscoveryTests.snapshot(Self.dnsWorkload)
        let token = try ControlPlaneCaller(identity: nil).check("shop:other", what: "context_token", required: false, in: snapshot)
        #expect(token.namespace == "shop" && token.pod == "other")
    }

    @Test func aWorkloadMayNameItselfOnly() throws {
        let snapshot = try DiscoveryTests.snapshot(Self.dnsWorkload)
        let own = try Self.caller.check(#"{"ns":"shop","external_workload":"vm-1"}"#, what: "workload", required: true, in: snapshot)
        #expect(own.externalWorkload == "vm-1")
        #expect(try Self.caller.check(#"{"ns":"shop"}"#, what: "context_token", required: false, in: snapshot).namespace == "shop")
        #expect(try Self.caller.check("", what: "context_token", required: false, in: snapshot).namespace == nil)
        let other = ControlPlaneCaller(identity: "api.shop.serviceaccount.identity.linkerd.cluster.local")
        #expect(Self.code { try other.check(#"{"ns":"shop","external_workload":"vm-1"}"#, what: "workload", required: true, in: snapshot) }
                == .permissionDenied)
        #expect(Self.code { try Self.caller.check(#"{"ns":"shop","external_workload":"gone"}"#, what: "workload", required: true, in: snapshot) }
                == .permissionDenied)
        #expect(Self.code { try Self.caller.check(#"{"ns":"billing"}"#, what: "context_token", required: false, in: snapshot) } == .permissionDenied)
        #expect(Self.code { try Self.caller.check(#"{"ns":"shop","pod":"web-1"}"#, what: "context_token", required: false, in: snapshot) }
                == .permissionDenied)
    }

    @Test func malformedOrOversizedContextsAreRefused() throws {
        let snapshot = try DiscoveryTests.snapshot(Self.dnsWorkload)
        for bad in ["shop:vm-1", "ns:shop", "{not json", "[1,2]"] {
            #expect(Self.code { try Self.caller.check(bad, what: "context_token", required: false, in: snapshot) } == .invalidArgument, "\(bad)")
        }
        let huge = #"{"ns":"shop","pad":""# + String(repeating: "x", count: 5000) + #""}"#
        #expect(Self.code { try Self.caller.check(huge, what: "context_token", required: false, in: snapshot) } == .invalidArgument)
        #expect(Self.code { try Self.caller.check("", what: "workload", required: true, in: snapshot) } == .invalidArgument)
    }

    @Test func namespacesOfIdentities() {
        #expect(ControlPlaneCaller.namespace(of: "web.shop.serviceaccount.identity.linkerd.cluster.local") == "shop")
        #expect(ControlPlaneCaller.namespace(of: "spiffe://cluster.local/ns/shop/sa/web") == "shop")
        #expect(ControlPlaneCaller.namespace(of: "web.example.com") == nil)
    }

    static func code(_ body: () throws -> ContextToken) -> RPCError.Code? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? RPCError)?.code
        }
    }
}

@Suite("Dual-stack endpoints")
struct DualStackEndpointTests {
    @Test func ipv6IsChosenUnlessIPv4IsPreferred() throws {
        let snapshot = try DiscoveryTests.snapshot(ControlPlaneCallerTests.dnsWorkload)
        let authority = ServiceAuthority(service: "web", namespace: "shop", port: 80)
        guard case .endpoints(let v6, _) = EndpointResolver(clusterDomain: "cluster.local").resolve(authority, in: snapshot),
              case .endpoints(let v4, _) = EndpointResolver(clusterDomain: "cluster.local", preferIPv4: true).resolve(authority, in: snapshot) else {
            Issue.record("the service has no endpoints")
            return
        }
        #expect(v6.map(\.address) == [IPAddress("fd00::2")!])
        #expect(v4.map(\.address) == [IPAddress("10.9.0.2")!])
    }
}

@Suite("Controller addresses")
struct ControllerAddressTests {
    @Test func ipv4AndBracketedIPv6() throws {
        let v6 = try ControllerConfiguration.Address(parsing: "[fd80::1]:8086")
        #expect(v6.host == "fd80::1" && v6.port == 8086 && v6.isIPv6 && v6.text == "[fd80::1]:8086")
        let v4 = try ControllerConfiguration.Address(parsing: "10.0.0.5:8080")
        #expect(v4.host == "10.0.0.5" && !v4.isIPv6 && v4.text == "10.0.0.5:8080")
        #expect(try ControllerConfiguration.Address(parsing: "[::]:9990").text == "[::]:9990")
        for bad in ["fd80::1:8086", "[10.0.0.5]:80", "[fd80::1]8086", "10.0.0.5", "host:80", "10.0.0.5:0", "[::1]:70000", "[]:80"] {
            #expect(throws: (any Error).self, "\(bad)") { try ControllerConfiguration.Address(parsing: bad) }
        }
    }
}

@Suite("Dual-stack endpoints for IPv4 callers")
struct IPv4CallerEndpointTests {
    @Test func aCallerOnIPv4GetsIPv4Endpoints() throws {
        let snapshot = try DiscoveryTests.snapshot(ControlPlaneCallerTests.dnsWorkload)
        let authority = ServiceAuthority(service: "web", namespace: "shop", port: 80)
        guard case .endpoints(let endpoints, _) = EndpointResolver(clusterDomain: "cluster.local").resolve(authority, in: snapshot, callerUsesIPv4: true) else {
            Issue.record("no endpoints")
            return
        }
        #expect(endpoints.map(\.address) == [IPAddress("10.9.0.2")!])
    }
}
