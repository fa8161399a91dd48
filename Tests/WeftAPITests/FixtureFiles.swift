import Foundation

/// Files shipped beside the tests.
enum FixtureFiles {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    /// The YAML files in `Fixtures/<folder>`, sorted by name.
    static func yamlFiles(in folder: String) throws -> [URL] {
        let url = directory.appendingPathComponent("Fixtures").appendingPathComponent(folder)
        return try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "yaml" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static func text(_ url: URL) throws -> String {
        try String(contentsOf: url, encoding: .utf8)
    }
}
