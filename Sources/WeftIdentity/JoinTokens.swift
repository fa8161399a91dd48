import Crypto
import Foundation
import Synchronization

/// Join tokens an operator minted (`weft token create --join`): each lets a host register
/// workloads in one namespace (names with a given prefix) and get their bootstrap tokens, until
/// it expires, is used up or is revoked. Kept in `join-tokens.json` of the trust directory (0600)
/// with only a SHA-256 of each secret: the file does not hold a usable token.
///
/// A token reads `weftjoin.<id>.<secret>`: 16 hex digits of ID (shown in lists, used to revoke)
/// and 43 base64url characters of secret (32 random bytes).
public final class JoinTokens: Sendable {
    public static let fileName = "join-tokens.json"
    public static let prefix = "weftjoin"
    /// The longest a join token may live, and the most that may exist.
    public static let maximumLifetime: TimeInterval = 30 * 86_400
    public static let maximumCount = 1_000

    /// One token, as stored.
    public struct Entry: Codable, Sendable, Equatable {
        public var id: String
        public var secretSHA256: String
        public var namespace: String
        public var namePrefix: String
        public var created: Date
        public var expires: Date
        /// Registrations left; nil: any number until it expires.
        public var usesLeft: Int?
        public var uses: Int
        public var revoked: Bool
    }

    /// Why a join token was refused; each case says so in its own words.
    public struct Refusal: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    public let path: String
    private let lock = Mutex(())

    public init(directory: TrustDirectory) {
        path = directory.file(Self.fileName)
    }

    /// Mints a token; its text is shown once and never stored.
    public func create(namespace: String, namePrefix: String, lifetime: TimeInterval, uses: Int?, now: Date = Date()) throws -> (text: String, entry: Entry) {
        guard lifetime > 0, lifetime <= Self.maximumLifetime else {
            throw Refusal(description: "a join token lives more than 0 seconds and at most 30 days")
        }
        guard uses.map({ $0 >= 1 }) ?? true else { throw Refusal(description: "--uses must be at least 1") }
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        let id = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let entry = Entry(id: id, secretSHA256: Self.digest(secret), namespace: namespace, namePrefix: namePrefix, created: now,
                          expires: now + lifetime, usesLeft: uses, uses: 0, revoked: false)
        try lock.withLock { _ in
            // Expired a day ago: forgotten (until then a refusal still says why).
            var entries = try read().filter { $0.expires > now - 86_400 }
            guard entries.filter({ $0.expires > now && !$0.revoked && $0.usesLeft != 0 }).count < Self.maximumCount,
                  entries.count < 2 * Self.maximumCount else {
                throw Refusal(description: "there are \(Self.maximumCount) live join tokens already; revoke some")
            }
            entries.append(entry)
            try write(entries)
        }
        return ("\(Self.prefix).\(id).\(Self.base64URL(secret))", entry)
    }

    /// Every token not yet pruned (live, expired, used up or revoked).
    public func list() throws -> [Entry] {
        try lock.withLock { _ in try read() }
    }

    /// Revokes the token with this ID; refused when there is none.
    public func revoke(id: String) throws {
        try lock.withLock { _ in
            var entries = try read()
            guard let index = entries.firstIndex(where: { $0.id == id }) else { throw Refusal(description: "no join token \(id)") }
            entries[index].revoked = true
            try write(entries)
        }
    }

    /// Checks `text` for a registration of `namespace/name` and counts one use; the entry it
    /// matched. Nothing is counted when it is refused.
    public func redeem(_ text: String, namespace: String, name: String, now: Date = Date()) throws -> Entry {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Self.prefix, parts[1].count == 16,
              let secret = Self.decodeBase64URL(String(parts[2])), secret.count == 32, Self.base64URL(secret) == parts[2] else {
            throw Refusal(description: "the join token is malformed (expected weftjoin.<id>.<secret>)")
        }
        let id = String(parts[1])
        return try lock.withLock { _ in
            var entries = try read()
            guard let index = entries.firstIndex(where: { $0.id == id }),
                  Self.constantTimeEqual(entries[index].secretSHA256, Self.digest(secret)) else {
                throw Refusal(description: "join token \(id) is not known to this controller")
            }
            var entry = entries[index]
            if entry.revoked { throw Refusal(description: "join token \(id) was revoked") }
            if entry.expires <= now { throw Refusal(description: "join token \(id) expired at \(entry.expires)") }
            if entry.usesLeft == 0 { throw Refusal(description: "join token \(id) is used up (\(entry.uses) registrations)") }
            guard entry.namespace == namespace else {
                throw Refusal(description: "join token \(id) is for namespace \(entry.namespace), not \(namespace)")
            }
            guard name.hasPrefix(entry.namePrefix) else {
                throw Refusal(description: "join token \(id) admits names starting with \"\(entry.namePrefix)\", not \(name)")
            }
            entry.uses += 1
            entry.usesLeft = entry.usesLeft.map { $0 - 1 }
            entries[index] = entry
            try write(entries)
            return entry
        }
    }

    private func read() throws -> [Entry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode([Entry].self, from: data)
        } catch {
            throw TrustDirectoryError("cannot read \(path): \(error)")
        }
    }

    private func write(_ entries: [Entry]) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: try encoder.encode(entries), attributes: [.posixPermissions: 0o600]),
              rename(temporary, path) == 0 else {
            throw TrustDirectoryError("cannot write \(path)")
        }
    }

    static func digest(_ secret: Data) -> String {
        SHA256.hash(data: secret).map { String(format: "%02x", $0) }.joined()
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64URL(_ text: String) -> Data? {
        guard text.count <= 64, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
