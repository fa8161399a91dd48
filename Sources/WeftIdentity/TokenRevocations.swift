#if canImport(FoundationEssentials)
import FoundationEssentials
#else
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#endif

/// Revoked bootstrap token IDs, one per line in `revoked-tokens` of the trust directory. Read on
/// each check, so `weft identity token revoke` takes effect at once.
public struct TokenRevocations: Sendable {
    public static let fileName = "revoked-tokens"
    public let path: String

    public init(directory: TrustDirectory) {
        path = directory.file(Self.fileName)
    }

    public func isRevoked(_ id: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path) else { return false }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).contains { $0 == id }
    }

    /// Adds `id` to the list.
    public func revoke(_ id: String) throws {
        guard !id.isEmpty, id.allSatisfy({ $0.isHexDigit }) else { throw TrustDirectoryError("token ID must be hexadecimal: \(id)") }
        let existing = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let text = existing + (existing.isEmpty || existing.hasSuffix("\n") ? "" : "\n") + id + "\n"
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw TrustDirectoryError("cannot write \(path)")
        }
    }
}
