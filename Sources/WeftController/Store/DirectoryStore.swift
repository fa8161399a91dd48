import Foundation
import Logging
import ServiceLifecycle
import WeftAPI
import Yams
import WeftStore

/// The embedded store: every object a YAML file under `<directory>/objects/<Kind>/<namespace>/`,
/// written through ``AtomicCommit`` (temporary files, fsync, a journal, rename), and the store's
/// resource version in `<directory>/version`. What was acknowledged is exactly what a restart
/// loads; a full disk fails the write with `storageFull` and changes nothing.
public actor DirectoryStore: ResourceStore, ServiceLifecycle.Service {
    /// How many past changes a watch can resume from, by default.
    public static let defaultRememberedEvents = 10_000

    /// How many past changes a watch can resume from.
    private let rememberedEvents: Int

    private let directory: String
    private let logger: Logger
    private var objects: [ResourceKey: Resource] = [:]
    private var version: UInt64 = 0
    private var events: [StoreEvent] = []
    private var watchers: [UInt64: AsyncStream<StoreEvent>.Continuation] = [:]
    private var snapshotWatchers: [UInt64: AsyncStream<StoreSnapshot>.Continuation] = [:]
    private var nextWatcher: UInt64 = 0

    /// Opens (creating if needed) the store in `directory`, finishing any interrupted commit.
    public init(directory: String, rememberedEvents: Int = defaultRememberedEvents, logger: Logger) throws(StoreError) {
        self.directory = directory
        self.rememberedEvents = max(1, rememberedEvents)
        self.logger = logger
        try AtomicCommit.makeDirectory(directory + "/objects")
        try AtomicCommit.recover(in: directory)
        for file in AtomicCommit.entries(directory) where file.contains(".tmp-") {
            unlink(directory + "/" + file)  // staged by a commit that never got its journal
        }
        var loaded: [ResourceKey: Resource] = [:]
        var highest: UInt64 = 0
        let decoder = ManifestDecoder()
        for kind in AtomicCommit.entries(directory + "/objects") {
            for namespace in AtomicCommit.entries("\(directory)/objects/\(kind)") {
                let folder = "\(directory)/objects/\(kind)/\(namespace)"
                for file in AtomicCommit.entries(folder) {
                    let path = folder + "/" + file
                    if file.contains(".tmp-") {
                        unlink(path)  // staged by a commit that never got its journal
                        continue
                    }
                    guard file.hasSuffix(".yaml"), let bytes = AtomicCommit.readFile(path) else { continue }
                    do {
                        let resources = try decoder.decode(String(decoding: bytes, as: UTF8.self), source: path)
                        guard resources.count == 1, let resource = resources.first else { continue }
                        loaded[ResourceKey(resource)] = resource
                        highest = max(highest, UInt64(resource.metadata.resourceVersion ?? "") ?? 0)
                    } catch {
                        throw StoreError(.storageFailed, "cannot load \(path): \(error)")
                    }
                }
            }
        }
        let recorded = AtomicCommit.readFile(directory + "/version").flatMap { UInt64(String(decoding: $0, as: UTF8.self)) } ?? 0
        objects = loaded
        let current = max(highest, recorded)
        version = current
        logger.info("store loaded", metadata: ["directory": "\(directory)", "objects": "\(loaded.count)", "version": "\(current)"])
    }

    private func path(for key: ResourceKey) -> String {
        "\(directory)/objects/\(key.kind)/\(key.namespace.isEmpty ? "_cluster" : key.namespace)/\(key.name).yaml"
    }

    public func snapshot() -> StoreSnapshot { StoreSnapshot(version: version, objects: objects) }

    public func get(_ key: ResourceKey) -> Resource? { objects[key] }

    public func list(kind: String, namespace: String?, labels: [String: String]) -> [Resource] {
        snapshot().list(kind: kind, namespace: namespace).filter { resource in
            let have = resource.metadata.labels ?? [:]
            return labels.allSatisfy { have[$0.key] == $0.value }
        }
    }

    public func apply(_ resources: [Resource], dryRun: Bool) throws(StoreError) -> [ApplyOutcome] {
        var outcomes: [ApplyOutcome] = []
        var staged: [ResourceKey: Resource] = [:]
        var next = version
        let now = Date().formatted(.iso8601)
        for incoming in resources {
            let key = ResourceKey(incoming)
            let existing = staged[key] ?? objects[key]
            var metadata = incoming.metadata
            if type(of: incoming.object).isNamespaced { metadata.namespace = key.namespace }
            if let expected = incoming.metadata.resourceVersion, expected != (existing?.metadata.resourceVersion ?? "") {
                throw StoreError(.conflict, "\(key): the object has been modified (resourceVersion \(expected) is not the current \(existing?.metadata.resourceVersion ?? "none")); get it again and reapply")
            }
            guard let existing else {
                next += 1
                metadata.uid = UUID().uuidString.lowercased()
                metadata.generation = 1
                metadata.creationTimestamp = now
                metadata.resourceVersion = String(next)
                let created = incoming.with(metadata: metadata)
                staged[key] = created
                outcomes.append(ApplyOutcome(key: key, action: .created, resource: created))
                continue
            }
            if existing.declaredContent == incoming.with(metadata: metadata).declaredContent {
                outcomes.append(ApplyOutcome(key: key, action: .unchanged, resource: existing))
                continue
            }
            next += 1
            metadata.uid = existing.metadata.uid
            metadata.creationTimestamp = existing.metadata.creationTimestamp
            metadata.generation = (existing.metadata.generation ?? 0) + 1
            metadata.resourceVersion = String(next)
            var updated = incoming.with(metadata: metadata)
            updated.status = existing.status
            staged[key] = updated
            outcomes.append(ApplyOutcome(key: key, action: .configured, resource: updated))
        }
        guard !dryRun, !staged.isEmpty else { return outcomes }
        try commit(writing: Array(staged.values), removing: [], version: next)
        for outcome in outcomes where outcome.action != .unchanged {
            let stored = staged[outcome.key]!
            objects[outcome.key] = stored
            record(StoreEvent(kind: outcome.action == .created ? .added : .modified, resource: stored,
                              version: UInt64(stored.metadata.resourceVersion!)!))
        }
        version = next
        publishSnapshot()
        return outcomes.map { ApplyOutcome(key: $0.key, action: $0.action, resource: staged[$0.key] ?? $0.resource) }
    }

    public func delete(_ keys: [ResourceKey], dryRun: Bool) throws(StoreError) -> [Resource] {
        var removed: [Resource] = []
        var seen: Set<ResourceKey> = []
        for key in keys where seen.insert(key).inserted {
            guard let existing = objects[key] else { throw StoreError(.notFound, "\(key) not found") }
            removed.append(existing)
        }
        guard !dryRun, !removed.isEmpty else { return removed }
        let next = version + UInt64(removed.count)
        try commit(writing: [], removing: removed.map(ResourceKey.init), version: next)
        for (offset, resource) in removed.enumerated() {
            objects[ResourceKey(resource)] = nil
            record(StoreEvent(kind: .deleted, resource: resource, version: version + UInt64(offset) + 1))
        }
        version = next
        publishSnapshot()
        return removed
    }

    public func updateStatus(_ resource: Resource) throws(StoreError) {
        let key = ResourceKey(resource)
        guard let existing = objects[key] else { throw StoreError(.notFound, "\(key) not found") }
        var updated = existing
        updated.status = resource.status
        guard updated != existing else { return }
        var metadata = updated.metadata
        metadata.resourceVersion = String(version + 1)
        updated = updated.with(metadata: metadata)
        try commit(writing: [updated], removing: [], version: version + 1)
        version += 1
        objects[key] = updated
        record(StoreEvent(kind: .modified, resource: updated, version: version))
        publishSnapshot()
    }

    private func commit(writing resources: [Resource], removing keys: [ResourceKey], version: UInt64) throws(StoreError) {
        var commit = AtomicCommit(directory: directory)
        let encoder = YAMLEncoder()
        encoder.options.sortKeys = true
        for resource in resources {
            let key = ResourceKey(resource)
            let text: String
            do {
                text = try encoder.encode(resource.object)
            } catch {
                commit.abandon()
                throw StoreError(.storageFailed, "cannot encode \(key): \(error)")
            }
            let path = path(for: key)
            do {
                try AtomicCommit.makeDirectory(AtomicCommit.parent(path))
            } catch {
                commit.abandon()
                throw error
            }
            try commit.write(Array(text.utf8), to: path)
        }
        for key in keys { commit.remove(path(for: key)) }
        try commit.write(Array(String(version).utf8), to: directory + "/version")
        try commit.commit()
    }

    private func record(_ event: StoreEvent) {
        events.append(event)
        if events.count > rememberedEvents { events.removeFirst(events.count - rememberedEvents) }
        for watcher in watchers.values { watcher.yield(event) }
    }

    private func publishSnapshot() {
        let current = snapshot()
        for watcher in snapshotWatchers.values { watcher.yield(current) }
    }

    public func probeWrite() throws(StoreError) {
        let probe = directory + "/.write-check.tmp-\(getpid())"
        try AtomicCommit.writeSynced(Array("weft check\n".utf8), to: probe)
        guard unlink(probe) == 0 else { throw AtomicCommit.failure("remove", probe) }
    }

    public func watch(from version: UInt64) throws(StoreError) -> AsyncStream<StoreEvent> {
        let oldest = events.first?.version ?? self.version + 1
        if version + 1 < oldest && version < self.version {
            throw StoreError(.gone, "resource version \(version) is too old (the oldest remembered change is \(oldest)); list again and watch from the list's version")
        }
        let (stream, continuation) = AsyncStream<StoreEvent>.makeStream(bufferingPolicy: .bufferingOldest(rememberedEvents))
        for event in events where event.version > version { continuation.yield(event) }
        let id = nextWatcher
        nextWatcher += 1
        watchers[id] = continuation
        continuation.onTermination = { _ in Task { await self.removeWatcher(id) } }
        return stream
    }

    public func snapshots() -> AsyncStream<StoreSnapshot> {
        let (stream, continuation) = AsyncStream<StoreSnapshot>.makeStream(bufferingPolicy: .bufferingNewest(1))
        continuation.yield(snapshot())
        let id = nextWatcher
        nextWatcher += 1
        snapshotWatchers[id] = continuation
        continuation.onTermination = { _ in Task { await self.removeWatcher(id) } }
        return stream
    }

    /// Runs until the controller shuts down, then ends every watch, so that the gRPC streams
    /// reading them finish and the servers can drain.
    public func run() async throws {
        try? await gracefulShutdown()
        finishWatches()
    }

    private func finishWatches() {
        for watcher in watchers.values { watcher.finish() }
        for watcher in snapshotWatchers.values { watcher.finish() }
        watchers.removeAll()
        snapshotWatchers.removeAll()
    }

    private func removeWatcher(_ id: UInt64) {
        watchers[id] = nil
        snapshotWatchers[id] = nil
    }
}
