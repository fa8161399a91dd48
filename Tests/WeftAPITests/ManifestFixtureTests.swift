import Foundation
import Testing
import WeftAPI
import WeftCore

@Suite("Resource fixtures")
struct ManifestFixtureTests {
    @Test func everyValidFixtureParses() throws {
        var kinds: [String: Int] = [:]
        var versions: Set<String> = []
        for file in try FixtureFiles.yamlFiles(in: "valid") {
            let resources: [Resource]
            do {
                resources = try ManifestDecoder().decode(FixtureFiles.text(file), source: file.lastPathComponent)
            } catch {
                Issue.record("\(file.lastPathComponent) was refused:\n\(error)")
                continue
            }
            for resource in resources {
                kinds[resource.kind, default: 0] += 1
                versions.insert("\(resource.apiVersion) \(resource.kind)")
            }
        }
        // Every kind is exercised, in every version the issue names.
        for kind in Resource.kinds {
            #expect(kinds[kind.kind, default: 0] > 0, "no valid fixture of \(kind.kind)")
        }
        for expected in [
            "policy.linkerd.io/v1beta1 Server", "policy.linkerd.io/v1beta2 Server", "policy.linkerd.io/v1beta3 Server",
            "policy.linkerd.io/v1beta1 HTTPRoute", "policy.linkerd.io/v1beta3 HTTPRoute",
            "gateway.networking.k8s.io/v1beta1 HTTPRoute", "gateway.networking.k8s.io/v1 HTTPRoute",
            "gateway.networking.k8s.io/v1alpha2 GRPCRoute", "gateway.networking.k8s.io/v1 GRPCRoute",
            "workload.linkerd.io/v1beta1 ExternalWorkload", "linkerd.io/v1alpha2 ServiceProfile",
        ] {
            #expect(versions.contains(expected), "no valid fixture of \(expected)")
        }
    }

    @Test func valuesAreDecodedFaithfully() throws {
        let file = FixtureFiles.directory.appendingPathComponent("Fixtures/valid/profiles.yaml")
        let resources = try ManifestDecoder().decode(FixtureFiles.text(file), source: "profiles.yaml")
        guard case .serviceProfile(let profile) = resources.first else {
            Issue.record("expected a ServiceProfile first")
            return
        }
        #expect(profile.metadata.name == "web-svc.emojivoto.svc.cluster.local")
        #expect(profile.spec.routes?.first?.timeout?.nanoseconds == 300_000_000)
        #expect(profile.spec.retryBudget?.retryRatio == 0.2)
        #expect(profile.spec.retryBudget?.ttl.nanoseconds == 10_000_000_000)
        #expect(profile.spec.dstOverrides?.map(\.weight.milliValue) == [500, 500])
        #expect(profile.spec.opaquePorts?.map(\.value) == [5432, 6379])
        #expect(profile.spec.routes?[1].condition.not == nil)
        #expect(profile.spec.routes?[1].condition.all?[2].not?.value.pathRegex == "/api/vote/internal")

        let workloads = try ManifestDecoder().decode(
            FixtureFiles.text(FixtureFiles.directory.appendingPathComponent("Fixtures/valid/workloads.yaml")), source: "w")
        guard case .externalWorkload(let vm) = workloads[0], case .externalWorkload(let old) = workloads[1] else {
            Issue.record("expected ExternalWorkloads")
            return
        }
        #expect(vm.identity == .spiffe(try SPIFFEID(parsing: "spiffe://root.linkerd.cluster.local/legacy-app")))
        #expect(vm.proxyInboundPort == 4143)
        #expect(vm.status?.conditions?.first?.status == .true)
        #expect(old.meshTLS?.serverName == "old-vm.cluster.local")
        #expect(old.identity == (try WorkloadIdentity(parsing: "web.mixed-env.serviceaccount.identity.linkerd.cluster.local")))
    }

    /// Each file in Fixtures/invalid starts with `# expect:` lines: the exact errors, in order.
    @Test(arguments: try FixtureFiles.yamlFiles(in: "invalid").map(\.lastPathComponent))
    func invalidFixtureGivesExactErrors(name: String) throws {
        let text = try FixtureFiles.text(FixtureFiles.directory.appendingPathComponent("Fixtures/invalid/\(name)"))
        let expected = text.split(separator: "\n")
            .filter { $0.hasPrefix("# expect: ") }
            .map { String($0.dropFirst("# expect: ".count)) }
        #expect(!expected.isEmpty, "\(name) has no # expect: lines")
        do {
            let resources = try ManifestDecoder().decode(text, source: name)
            Issue.record("\(name) was accepted: \(resources.map(\.label))")
        } catch {
            #expect(error.problems.map(\.description) == expected)
        }
    }

    @Test func aRefusedManifestYieldsNothing() throws {
        // Two good documents and one bad one: the whole input is refused, not two thirds of it.
        let text = try FixtureFiles.text(FixtureFiles.directory.appendingPathComponent("Fixtures/invalid/http-path-slash.yaml"))
        #expect(throws: ManifestError.self) { try ManifestDecoder().decode(text, source: "x.yaml") }
    }

    @Test func decodedResourcesEncodeBackToEquivalentYAML() throws {
        // What a store writes (JSON or YAML from the Codable types) reads back to the same values.
        for file in try FixtureFiles.yamlFiles(in: "valid") {
            let resources = try ManifestDecoder().decode(FixtureFiles.text(file), source: file.lastPathComponent)
            for resource in resources {
                let json = try JSONEncoder().encode(AnyResourceBox(resource.object))
                let again = try ManifestDecoder().decode(String(decoding: json, as: UTF8.self), source: "json")
                #expect(again == [resource], "\(resource.label) did not survive encoding")
            }
        }
    }
}

/// Encodes any resource through its own Codable conformance.
struct AnyResourceBox: Encodable {
    let object: any ResourceObject
    init(_ object: any ResourceObject) { self.object = object }
    func encode(to encoder: any Encoder) throws { try object.encode(to: encoder) }
}
