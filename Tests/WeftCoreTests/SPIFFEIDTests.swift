import Testing
import WeftCore

@Suite("SPIFFE ID parser (SPIFFE-ID.md §2)")
struct SPIFFEIDTests {
    @Test(arguments: [
        ("spiffe://example.org/ns/default/sa/web", "example.org", "/ns/default/sa/web"),
        ("spiffe://root.linkerd.cluster.local/external-workload", "root.linkerd.cluster.local", "/external-workload"),
        ("spiffe://a-b_c.1/A.b-C_9", "a-b_c.1", "/A.b-C_9"),
        ("spiffe://example.org", "example.org", ""),
        ("spiffe://td/..a/a..", "td", "/..a/a.."),
    ])
    func accepts(text: String, trustDomain: String, path: String) throws {
        let id = try SPIFFEID(parsing: text)
        #expect(id.trustDomain == trustDomain)
        #expect(id.path == path)
        #expect(id.description == text)
    }

    @Test(arguments: [
        ("", IdentityParseError.Code.empty),
        ("http://example.org/x", .wrongScheme),
        ("example.org/x", .wrongScheme),
        ("spiffe:/example.org/x", .wrongScheme),
        ("SPIFFE://example.org/x", .schemeNotLowercase),
        ("Spiffe://example.org/x", .schemeNotLowercase),
        ("spiffe:///x", .emptyTrustDomain),
        ("spiffe://", .emptyTrustDomain),
        ("spiffe://TD/x", .trustDomainNotLowercase),
        ("spiffe://Example.org/x", .trustDomainNotLowercase),
        ("spiffe://td:443/x", .portNotAllowed),
        ("spiffe://u@td/x", .userInfoNotAllowed),
        ("spiffe://u:p@td/x", .portNotAllowed),
        ("spiffe://t%64/x", .percentEncodingNotAllowed),
        ("spiffe://td/a/%2e", .percentEncodingNotAllowed),
        ("spiffe://td/a%2Fb", .percentEncodingNotAllowed),
        ("spiffe://td?q", .queryNotAllowed),
        ("spiffe://td/x?q", .queryNotAllowed),
        ("spiffe://td#f", .fragmentNotAllowed),
        ("spiffe://td/x#f", .fragmentNotAllowed),
        ("spiffe://td/a//b", .emptySegment),
        ("spiffe://td//", .emptySegment),
        ("spiffe://td/a/", .trailingSlash),
        ("spiffe://td/", .trailingSlash),
        ("spiffe://td/a/../b", .dotSegment),
        ("spiffe://td/a/./b", .dotSegment),
        ("spiffe://td/..", .dotSegment),
        ("spiffe://td/.", .dotSegment),
        ("spiffe://td/a b", .badPathCharacter),
        ("spiffe://td/a\u{0}b", .badPathCharacter),
        ("spiffe://td/é", .badPathCharacter),
        ("spiffe://t d/x", .badTrustDomainCharacter),
        ("spiffe://td\u{0}/x", .badTrustDomainCharacter),
        ("spiffe://[::1]/x", .badTrustDomainCharacter),
    ])
    func rejects(text: String, code: IdentityParseError.Code) {
        #expect(throws: IdentityParseError(code: code, input: text)) { try SPIFFEID(parsing: text) }
    }

    @Test func lengthLimits() throws {
        let domain255 = String(repeating: "a", count: 255)
        _ = try SPIFFEID(parsing: "spiffe://\(domain255)/x")
        let domain256 = String(repeating: "a", count: 256)
        #expect(throws: IdentityParseError(code: .trustDomainTooLong, input: "spiffe://\(domain256)/x")) {
            try SPIFFEID(parsing: "spiffe://\(domain256)/x")
        }
        // 9 bytes of scheme, 2 of trust domain, then a path filling the ID to exactly 2048 bytes.
        let path2048 = "/" + String(repeating: "p", count: 2048 - 9 - 2 - 1)
        let id = try SPIFFEID(parsing: "spiffe://td\(path2048)")
        #expect(id.description.utf8.count == 2048)
        let path2049 = path2048 + "p"
        #expect(throws: IdentityParseError(code: .tooLong, input: "spiffe://td\(path2049)")) {
            try SPIFFEID(parsing: "spiffe://td\(path2049)")
        }
    }

    @Test func errorMessagesNameTheRule() {
        let error = IdentityParseError(code: .portNotAllowed, input: "spiffe://td:443/x")
        #expect(error.description == "invalid identity \"spiffe://td:443/x\": trust domain may not have a port")
        for code in IdentityParseError.Code.allCases {
            #expect(!IdentityParseError(code: code, input: "x").message.isEmpty)
        }
    }
}
