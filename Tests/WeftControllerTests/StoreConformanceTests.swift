import Foundation
import Logging
import Testing
import WeftController
import WeftStore
import WeftTesting

/// The directory store keeps every promise of the store conformance suite.
@Suite("Store conformance: directory")
struct DirectoryStoreConformanceTests {
    @Test(arguments: StoreConformance.checks)
    func directoryStoreKeeps(_ check: StoreConformance.Check) async throws {
        let directory = NSTemporaryDirectory() + "weft-conformance-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = Logger(label: "conformance")
        // A small window, so that the `gone` check writes a few changes, not ten thousand.
        let remembered = 20
        let store = try DirectoryStore(directory: directory, rememberedEvents: remembered, logger: logger)
        let subject = StoreConformance.Subject(store: store, rememberedEvents: remembered) {
            try DirectoryStore(directory: directory, rememberedEvents: remembered, logger: logger)
        }
        try await check.run(subject)
    }
}
