import Foundation
import Testing
@testable import WeftIdentity

@Suite("Join tokens")
struct JoinTokensTests {
    static func tokens() throws -> JoinTokens {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("weft-join-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return JoinTokens(directory: TrustDirectory(path: path))
    }

    static func refusal(_ body: () throws -> Any) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? JoinTokens.Refusal)?.description
        }
    }

    @Test func aTokenIsRedeemedWithinItsScopeUntilUsedUp() throws {
        let tokens = try Self.tokens()
        let now = Date()
        let (text, entry) = try tokens.create(namespace: "shop", namePrefix: "web-", lifetime: 3600, uses: 2, now: now)
        #expect(text.hasPrefix("weftjoin.\(entry.id).") && entry.id.count == 16)
        #expect(try tokens.redeem(text, namespace: "shop", name: "web-1", now: now).usesLeft == 1)
        #expect(Self.refusal { try tokens.redeem(text, namespace: "billing", name: "web-1", now: now) }?.contains("for namespace shop, not billing") == true)
        #expect(Self.refusal { try tokens.redeem(text, namespace: "shop", name: "api-1", now: now) }?.contains("starting with \"web-\"") == true)
        #expect(try tokens.redeem(text, namespace: "shop", name: "web-2", now: now).usesLeft == 0)
        #expect(Self.refusal { try tokens.redeem(text, namespace: "shop", name: "web-3", now: now) }?.contains("used up (2 registrations)") == true)
        // Only a digest of the secret is stored.
        let stored = try String(contentsOfFile: tokens.path, encoding: .utf8)
        #expect(!stored.contains(String(text.split(separator: ".")[2])))
    }

    @Test func expiredRevokedForgedAndMalformedTokensAreRefused() throws {
        let tokens = try Self.tokens()
        let now = Date()
        let (text, entry) = try tokens.create(namespace: "shop", namePrefix: "", lifetime: 60, uses: nil, now: now)
        #expect(Self.refusal { try tokens.redeem(text, namespace: "shop", name: "a", now: now + 61) }?.contains("expired at") == true)
        let secret = text.split(separator: ".")[2]
        let forged = "weftjoin.\(entry.id).\(secret.first == "A" ? "B" : "A")\(secret.dropFirst())"
        #expect(Self.refusal { try tokens.redeem(forged, namespace: "shop", name: "a", now: now) }?.contains("is not known") == true)
        // A secret spelled differently but decoding to the same bytes is not the token.
        var respelled = text
        respelled.removeLast()
        respelled.append(text.last == "A" ? "B" : "A")
        #expect(Self.refusal { try tokens.redeem(respelled, namespace: "shop", name: "a", now: now) } != nil)
        for bad in ["", "weftjoin", "weftjoin.x.y", "other.\(entry.id).\(text.split(separator: ".")[2])", text + ".extra"] {
            #expect(Self.refusal { try tokens.redeem(bad, namespace: "shop", name: "a", now: now) }?.contains("malformed") == true, "\(bad)")
        }
        try tokens.revoke(id: entry.id)
        #expect(Self.refusal { try tokens.redeem(text, namespace: "shop", name: "a", now: now) }?.contains("was revoked") == true)
        #expect(Self.refusal { try tokens.revoke(id: "0000000000000000") } != nil)
        #expect(Self.refusal { try tokens.create(namespace: "shop", namePrefix: "", lifetime: 31 * 86_400, uses: nil) } != nil)
        #expect(Self.refusal { try tokens.create(namespace: "shop", namePrefix: "", lifetime: 60, uses: 0) } != nil)
    }
}
