import WeftAPI
import WeftStore

/// What every `ResourceStore` backend must do, as checks a backend's tests run against a fresh
/// store of theirs: watches resumable from a version and `gone` past what is remembered,
/// all-or-nothing writes, optimistic concurrency, status kept across applies, and — where the
/// backend can be reopened — what was acknowledged survives a restart.
///
/// A test target runs each of ``checks`` (one test per check) with a ``Subject`` it makes.
public enum StoreConformance {
    /// A fresh, empty store under test.
    public struct Subject: Sendable {
        public let store: any ResourceStore
        /// How many past changes the store promises to resume watches from (the `gone` check
        /// writes one more than that).
        public let rememberedEvents: Int
        /// Opens the same store again as after a restart; nil where the backend has no such thing.
        public let reopen: (@Sendable () async throws -> any ResourceStore)?

        public init(store: any ResourceStore, rememberedEvents: Int, reopen: (@Sendable () async throws -> any ResourceStore)?) {
            self.store = store
            self.rememberedEvents = rememberedEvents
            self.reopen = reopen
        }
    }

    /// One named promise.
    public struct Check: Sendable, CustomStringConvertible {
        public let description: String
        public let run: @Sendable (Subject) async throws -> Void
    }

    /// Every promise a backend must keep.
    public static let checks: [Check] = [
        Check(description: "versions grow and a watch resumes from any remembered version", run: resumableWatch),
        Check(description: "a watch from a forgotten version fails with gone", run: goneAfterWindow),
        Check(description: "an apply stores all of its objects or none", run: allOrNothingApply),
        Check(description: "a stale resourceVersion is a conflict", run: optimisticConcurrency),
        Check(description: "a delete removes all of its objects or none", run: allOrNothingDelete),
        Check(description: "status is kept across applies and changes no generation", run: statusKeptAcrossApplies),
        Check(description: "snapshots start with the current state and follow changes", run: snapshotsFollowChanges),
        Check(description: "what was acknowledged survives a reopen", run: survivesReopen),
    ]

    static func resumableWatch(_ subject: Subject) async throws {
        let store = subject.store
        let first = try await store.apply(Fixtures.services(["a"]), dryRun: false)
        let start = try version(of: first[0].resource)
        let later = try await store.apply(Fixtures.services(["b", "c"]), dryRun: false)
        let versions = try later.map { try version(of: $0.resource) }
        try expect(versions[0] > start && versions[1] > versions[0], "resource versions grow: \(start), \(versions)")
        let stream = try await store.watch(from: start)
        _ = try await store.apply(Fixtures.services(["d"]), dryRun: false)
        let events = try await firstEvents(3, of: stream)
        try expect(events.map { $0.resource.metadata.name ?? "" } == ["b", "c", "d"], "watch from \(start) saw \(events.map { $0.resource.metadata.name ?? "" })")
        try expect(events.allSatisfy { $0.kind == .added }, "every event is ADDED: \(events.map(\.kind))")
        try expect(events.map(\.version) == events.map(\.version).sorted(), "events in version order: \(events.map(\.version))")
    }

    static func goneAfterWindow(_ subject: Subject) async throws {
        let store = subject.store
        let first = try await store.apply(Fixtures.services(["first"]), dryRun: false)
        let start = try version(of: first[0].resource)
        let names = (0...subject.rememberedEvents).map { "cm-\($0)" }
        _ = try await store.apply(Fixtures.services(names), dryRun: false)
        try await expectRefusal(.gone, "a watch from version \(start - 1), \(subject.rememberedEvents + 2) changes ago, was accepted") {
            _ = try await store.watch(from: start - 1)
        }
        // The newest version is always a valid start.
        let current = await store.snapshot().version
        _ = try await store.watch(from: current)
    }

    static func allOrNothingApply(_ subject: Subject) async throws {
        let store = subject.store
        _ = try await store.apply(Fixtures.services(["existing"]), dryRun: false)
        var stale = Fixtures.services(["existing"], port: 81)[0]
        stale = Fixtures.versioned(stale, "999999")
        let before = await store.snapshot()
        try await expectRefusal(.conflict, "an apply with a conflicting object was accepted") {
            _ = try await store.apply(Fixtures.services(["new"]) + [stale], dryRun: false)
        }
        let after = await store.snapshot()
        try expect(after.version == before.version, "the version moved from \(before.version) to \(after.version)")
        let half = await store.get(Fixtures.key("new"))
        try expect(half == nil, "the valid half of a refused apply was stored")
    }

    static func optimisticConcurrency(_ subject: Subject) async throws {
        let store = subject.store
        let created = try await store.apply(Fixtures.services(["cm"]), dryRun: false)[0].resource
        let current = created.metadata.resourceVersion
        var update = Fixtures.services(["cm"], port: 81)[0]
        update = Fixtures.versioned(update, current)
        let updated = try await store.apply([update], dryRun: false)
        try expect(updated[0].action == .configured, "an update naming the current version applies: \(updated[0].action)")
        var late = Fixtures.services(["cm"], port: 82)[0]
        late = Fixtures.versioned(late, current)
        try await expectRefusal(.conflict, "an update naming the replaced version \(current ?? "-") was accepted") {
            _ = try await store.apply([late], dryRun: false)
        }
        let stored = await store.get(Fixtures.key("cm"))
        try expect(stored == updated[0].resource, "the stored object is the acknowledged update")
    }

    static func allOrNothingDelete(_ subject: Subject) async throws {
        let store = subject.store
        _ = try await store.apply(Fixtures.services(["keep"]), dryRun: false)
        try await expectRefusal(.notFound, "a delete naming a missing object was accepted") {
            _ = try await store.delete([Fixtures.key("keep"), Fixtures.key("missing")], dryRun: false)
        }
        let survivor = await store.get(Fixtures.key("keep"))
        try expect(survivor != nil, "the existing half of a refused delete was removed")
        let removed = try await store.delete([Fixtures.key("keep")], dryRun: false)
        let kept = await store.get(Fixtures.key("keep"))
        try expect(removed.count == 1 && kept == nil, "a valid delete removes the object")
    }

    static func statusKeptAcrossApplies(_ subject: Subject) async throws {
        let store = subject.store
        let created = try await store.apply(Fixtures.workloads(["web-1"]), dryRun: false)[0].resource
        var withStatus = created
        withStatus.status = Fixtures.readyStatus
        try await store.updateStatus(withStatus)
        let stored = try await required(store.get(ResourceKey(created)), "the workload after its status update")
        try expect(stored.status == Fixtures.readyStatus, "the status was stored")
        try expect(stored.metadata.generation == created.metadata.generation, "a status update changed the generation")
        let changed = try await store.apply(Fixtures.workloads(["web-1"], port: 9090), dryRun: false)[0].resource
        try expect(changed.status == Fixtures.readyStatus, "an apply of the declared object dropped its status")
        try expect((changed.metadata.generation ?? 0) > (created.metadata.generation ?? 0), "a changed spec bumps the generation")
    }

    static func snapshotsFollowChanges(_ subject: Subject) async throws {
        let store = subject.store
        _ = try await store.apply(Fixtures.services(["one"]), dryRun: false)
        var iterator = await store.snapshots().makeAsyncIterator()
        let initial = try await required(iterator.next(), "a first snapshot")
        try expect(initial.objects[Fixtures.key("one")] != nil, "the first snapshot holds what was applied before")
        _ = try await store.apply(Fixtures.services(["two"]), dryRun: false)
        var latest = initial
        while latest.objects[Fixtures.key("two")] == nil {
            latest = try await required(iterator.next(), "a snapshot after the apply")
        }
        try expect(latest.version > initial.version, "a later snapshot has a later version")
    }

    static func survivesReopen(_ subject: Subject) async throws {
        guard let reopen = subject.reopen else { return }
        let store = subject.store
        _ = try await store.apply(Fixtures.services(["a", "b"]), dryRun: false)
        _ = try await store.delete([Fixtures.key("a")], dryRun: false)
        let before = await store.snapshot()
        let reopened = try await reopen()
        let after = await reopened.snapshot()
        try expect(after.objects == before.objects, "a reopened store holds \(after.objects.keys.sorted()), not \(before.objects.keys.sorted())")
        try expect(after.version >= before.version, "a reopened store went back from version \(before.version) to \(after.version)")
        let next = try await reopened.apply(Fixtures.services(["c"]), dryRun: false)
        try expect(try version(of: next[0].resource) > before.version, "versions are never reused after a reopen")
    }

    // MARK: Helpers

    static func version(of resource: Resource) throws -> UInt64 {
        guard let text = resource.metadata.resourceVersion, let value = UInt64(text) else {
            throw ConformanceFailure("\(ResourceKey(resource)) has no numeric resourceVersion (\(resource.metadata.resourceVersion ?? "none"))")
        }
        return value
    }

    static func firstEvents(_ count: Int, of stream: AsyncStream<StoreEvent>) async throws -> [StoreEvent] {
        var events: [StoreEvent] = []
        for await event in stream {
            events.append(event)
            if events.count == count { return events }
        }
        throw ConformanceFailure("the watch ended after \(events.count) of \(count) events")
    }

    static func required<T>(_ value: T?, _ what: String) throws -> T {
        guard let value else { throw ConformanceFailure("missing: \(what)") }
        return value
    }

    /// `body` must fail with a store error of `code`; `accepted` says what went wrong if it did not.
    static func expectRefusal(_ code: StoreError.Code, _ accepted: @autoclosure () -> String,
                              _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as StoreError {
            try expect(error.code == code, "expected \(code), the store answered \(error.code): \(error.message)")
            return
        }
        throw ConformanceFailure(accepted())
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw ConformanceFailure(message()) }
    }
}

/// A broken promise, with what was seen.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
