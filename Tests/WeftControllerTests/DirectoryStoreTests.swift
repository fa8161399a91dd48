import Foundation
import Logging
import Testing
import WeftAPI
@testable import WeftController
import WeftStore

@Suite("Directory store")
struct DirectoryStoreTests {
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "weft-store-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func resources(_ yaml: String) throws -> [Resource] {
        try ManifestDecoder().decode(yaml, source: "test.yaml")
    }

    static let service = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop, annotations: {note: "yes", zero: "0777", nothing: "null", on: "on"}}
        spec:
          selector: {app: web}
          ports: [{port: 80, targetPort: 8080}]
        """

    static let workload = """
        apiVersion: workload.linkerd.io/v1beta1
        kind: ExternalWorkload
        metadata: {name: web-1, namespace: shop, labels: {app: web}}
        spec:
          meshTLS: {identity: "spiffe://cluster.local/web", serverName: "web.shop.cluster.local"}
          workloadIPs: [{ip: 127.0.0.11}]
          ports: [{port: 8080, name: http}]
        """

    let logger = Logger(label: "test")

    @Test func createsUpdatesAndKeepsWhatWasAcknowledgedAcrossRestarts() async throws {
        let directory = Self.temporaryDirectory()
        let store = try DirectoryStore(directory: directory, logger: logger)
        let created = try await store.apply(Self.resources(Self.service + "\n---\n" + Self.workload), dryRun: false)
        #expect(created.map(\.action) == [.created, .created])
        #expect(created.map { $0.resource.metadata.resourceVersion } == ["1", "2"])
        let first = try #require(created.first?.resource.metadata)
        #expect(first.generation == 1 && first.uid?.count == 36 && first.creationTimestamp != nil)

        let again = try await store.apply(Self.resources(Self.service), dryRun: false)
        #expect(again.map(\.action) == [.unchanged])

        let changed = try await store.apply(Self.resources(Self.service.replacingOccurrences(of: "port: 80,", with: "port: 81,")), dryRun: false)
        #expect(changed.map(\.action) == [.configured])
        #expect(changed[0].resource.metadata.generation == 2 && changed[0].resource.metadata.uid == first.uid)
        #expect(changed[0].resource.metadata.resourceVersion == "3")

        // A new store on the same directory loads exactly this, strings that look like other
        // types included.
        let reopened = try DirectoryStore(directory: directory, logger: logger)
        let snapshot = await reopened.snapshot()
        #expect(snapshot.version == 3)
        #expect(snapshot.objects == (await store.snapshot()).objects)
        let annotations = snapshot[Service.kind, "shop", "web"]?.metadata.annotations
        #expect(annotations == ["note": "yes", "zero": "0777", "nothing": "null", "on": "on"])
    }

    @Test func staleResourceVersionIsAConflictAndChangesNothing() async throws {
        let store = try DirectoryStore(directory: Self.temporaryDirectory(), logger: logger)
        _ = try await store.apply(Self.resources(Self.service), dryRun: false)
        var stale = try Self.resources(Self.service.replacingOccurrences(of: "port: 80,", with: "port: 82,"))
        stale[0] = stale[0].with(metadata: { var m = stale[0].metadata; m.resourceVersion = "7"; return m }())
        await #expect(throws: StoreError.self) { try await store.apply(stale + Self.resources(Self.workload), dryRun: false) }
        #expect(await store.snapshot().version == 1)
        #expect(await store.get(ResourceKey(kind: ExternalWorkload.kind, namespace: "shop", name: "web-1")) == nil)
        do {
            _ = try await store.apply(stale, dryRun: false)
        } catch {
            #expect(error.code == .conflict)
        }
    }

    @Test func dryRunReportsWithoutWriting() async throws {
        let directory = Self.temporaryDirectory()
        let store = try DirectoryStore(directory: directory, logger: logger)
        let outcomes = try await store.apply(Self.resources(Self.service), dryRun: true)
        #expect(outcomes.map(\.action) == [.created])
        #expect(await store.snapshot().objects.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: directory + "/objects/Service/shop/web.yaml"))
    }

    @Test func deleteIsAllOrNothingAndVersionsStayMonotonicAfterRestart() async throws {
        let directory = Self.temporaryDirectory()
        let store = try DirectoryStore(directory: directory, logger: logger)
        _ = try await store.apply(Self.resources(Self.service + "\n---\n" + Self.workload), dryRun: false)
        let missing = ResourceKey(kind: Service.kind, namespace: "shop", name: "nope")
        let workload = ResourceKey(kind: ExternalWorkload.kind, namespace: "shop", name: "web-1")
        await #expect(throws: StoreError.self) { try await store.delete([workload, missing], dryRun: false) }
        #expect(await store.get(workload) != nil)
        _ = try await store.delete([workload], dryRun: false)
        #expect(await store.snapshot().version == 3)
        let reopened = try DirectoryStore(directory: directory, logger: logger)
        #expect(await reopened.snapshot().version == 3)
        #expect(await reopened.get(workload) == nil)
        let recreated = try await reopened.apply(Self.resources(Self.workload), dryRun: false)
        #expect(recreated[0].resource.metadata.resourceVersion == "4")
    }

    @Test func anInterruptedCommitIsFinishedFromItsJournal() async throws {
        // The bytes a commit would stage for the workload, from another store.
        let other = Self.temporaryDirectory()
        _ = try await DirectoryStore(directory: other, logger: logger).apply(Self.resources(Self.workload), dryRun: false)
        let staged = try String(contentsOfFile: other + "/objects/ExternalWorkload/shop/web-1.yaml", encoding: .utf8)

        let directory = Self.temporaryDirectory()
        _ = try await DirectoryStore(directory: directory, logger: logger).apply(Self.resources(Self.service), dryRun: false)
        // A crash after the journal was synced and before the rename.
        let folder = directory + "/objects/ExternalWorkload/shop"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try staged.write(toFile: folder + "/web-1.yaml.tmp-1", atomically: false, encoding: .utf8)
        try "R\t\(folder)/web-1.yaml.tmp-1\t\(folder)/web-1.yaml\n".write(toFile: directory + "/journal", atomically: false, encoding: .utf8)
        // And a file staged by a commit that crashed before its journal: never applied.
        try "garbage".write(toFile: folder + "/web-2.yaml.tmp-2", atomically: false, encoding: .utf8)

        let recovered = try DirectoryStore(directory: directory, logger: logger)
        #expect(await recovered.get(ResourceKey(kind: ExternalWorkload.kind, namespace: "shop", name: "web-1")) != nil)
        #expect(await recovered.get(ResourceKey(kind: Service.kind, namespace: "shop", name: "web")) != nil)
        #expect(await recovered.snapshot().objects.count == 2)
        for leftover in ["/journal", "/objects/ExternalWorkload/shop/web-1.yaml.tmp-1", "/objects/ExternalWorkload/shop/web-2.yaml.tmp-2"] {
            #expect(!FileManager.default.fileExists(atPath: directory + leftover), "\(leftover) left behind")
        }
    }

    @Test func watchesResumeFromAVersionAndRefuseForgottenOnes() async throws {
        let store = try DirectoryStore(directory: Self.temporaryDirectory(), logger: logger)
        _ = try await store.apply(Self.resources(Self.service), dryRun: false)
        _ = try await store.apply(Self.resources(Self.workload), dryRun: false)
        let stream = try await store.watch(from: 1)
        _ = try await store.delete([ResourceKey(kind: Service.kind, namespace: "shop", name: "web")], dryRun: false)
        var iterator = stream.makeAsyncIterator()
        let first = await iterator.next()
        let second = await iterator.next()
        #expect(first?.kind == .added && first?.version == 2 && first?.resource.kind == ExternalWorkload.kind)
        #expect(second?.kind == .deleted && second?.version == 3 && second?.resource.kind == Service.kind)
    }

    @Test func statusUpdatesKeepTheGenerationAndSurviveApply() async throws {
        let store = try DirectoryStore(directory: Self.temporaryDirectory(), logger: logger)
        let created = try await store.apply(Self.resources(Self.workload), dryRun: false)
        guard case .externalWorkload(var workload) = created[0].resource else { Issue.record("not a workload"); return }
        workload.status = ExternalWorkload.Status(conditions: [Condition(type: "Ready", status: .true, reason: "ProxyReady")])
        try await store.updateStatus(.externalWorkload(workload))
        let key = ResourceKey(kind: ExternalWorkload.kind, namespace: "shop", name: "web-1")
        guard case .externalWorkload(let stored)? = await store.get(key) else { Issue.record("missing"); return }
        #expect(stored.isReady && stored.metadata.generation == 1 && stored.metadata.resourceVersion == "2")
        // Applying the spec again (without status) leaves the status alone.
        let reapplied = try await store.apply(Self.resources(Self.workload), dryRun: false)
        #expect(reapplied[0].action == .unchanged)
        let changed = try await store.apply(Self.resources(Self.workload.replacingOccurrences(of: "port: 8080", with: "port: 8081")), dryRun: false)
        guard case .externalWorkload(let updated) = changed[0].resource else { Issue.record("not a workload"); return }
        #expect(updated.isReady && updated.metadata.generation == 2)
    }
}
