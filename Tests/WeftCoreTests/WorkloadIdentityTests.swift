import Testing
import WeftCore

@Suite("DNS-like identities and WorkloadIdentity")
struct WorkloadIdentityTests {
    @Test(arguments: [
        "web.emojivoto.serviceaccount.identity.linkerd.cluster.local",
        "a", "a-b.c-d", "0.1", "external-workload.cluster.local",
    ])
    func acceptsDNSLike(text: String) throws {
        #expect(try DNSLikeIdentity(parsing: text).name == text)
        #expect(try WorkloadIdentity(parsing: text) == .dnsLike(DNSLikeIdentity(parsing: text)))
    }

    @Test(arguments: [
        ("", IdentityParseError.Code.empty),
        ("web.", .trailingDot),
        (".web", .emptyLabel),
        ("a..b", .emptyLabel),
        ("Web.ns", .badLabelCharacter),
        ("we_b.ns", .badLabelCharacter),
        ("*.ns", .badLabelCharacter),
        ("a b", .badLabelCharacter),
        ("web\u{0}.ns", .badLabelCharacter),
        ("-web.ns", .labelHyphenAtEdge),
        ("web-.ns", .labelHyphenAtEdge),
        (String(repeating: "a", count: 64) + ".ns", .labelTooLong),
        (Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: "."), .tooLong),
    ])
    func rejectsDNSLike(text: String, code: IdentityParseError.Code) {
        #expect(throws: IdentityParseError(code: code, input: text)) { try DNSLikeIdentity(parsing: text) }
    }

    @Test func longestDNSNameIsAccepted() throws {
        let name = Array(repeating: String(repeating: "a", count: 63), count: 3).joined(separator: ".")
            + "." + String(repeating: "b", count: 61)
        #expect(name.utf8.count == 253)
        _ = try DNSLikeIdentity(parsing: name)
    }

    @Test func spiffeFormIsChosenByScheme() throws {
        let id = try WorkloadIdentity(parsing: "spiffe://root.linkerd.cluster.local/external-workload")
        guard case .spiffe(let spiffe) = id else {
            Issue.record("expected a SPIFFE ID, got \(id)")
            return
        }
        #expect(spiffe.path == "/external-workload")
        #expect(throws: IdentityParseError(code: .schemeNotLowercase, input: "SPIFFE://td/x")) {
            try WorkloadIdentity(parsing: "SPIFFE://td/x")
        }
        #expect(throws: IdentityParseError(code: .wrongScheme, input: "https://td/x")) {
            try WorkloadIdentity(parsing: "https://td/x")
        }
        // A trust domain alone names no workload (X509-SVID §3.1).
        #expect(throws: IdentityParseError(code: .trustDomainOnly, input: "spiffe://td")) {
            try WorkloadIdentity(parsing: "spiffe://td")
        }
    }

    @Test func serviceAccountNames() throws {
        let id = try WorkloadIdentity.serviceAccount("web", namespace: "emojivoto")
        #expect(id.description == "web.emojivoto.serviceaccount.identity.linkerd.cluster.local")
        let other = try WorkloadIdentity.serviceAccount("", namespace: "prod", controlPlaneNamespace: "weft", trustDomain: "example.org")
        #expect(other.description == "default.prod.serviceaccount.identity.weft.example.org")
        #expect(throws: IdentityParseError.self) { try WorkloadIdentity.serviceAccount("Web", namespace: "ns") }

        let parts = try ServiceAccountIdentity(parsing: DNSLikeIdentity(parsing: "web.emojivoto.serviceaccount.identity.linkerd.cluster.local"))
        #expect(parts.serviceAccount == "web")
        #expect(parts.namespace == "emojivoto")
        #expect(parts.controlPlaneNamespace == "linkerd")
        #expect(parts.trustDomain == "cluster.local")
        #expect(throws: IdentityParseError(code: .notServiceAccountIdentity, input: "web.ns.svc.cluster.local")) {
            try ServiceAccountIdentity(parsing: DNSLikeIdentity(parsing: "web.ns.svc.cluster.local"))
        }
        #expect(ServiceAccountIdentity.namespaceWildcard(namespace: "emojivoto")
            == "*.emojivoto.serviceaccount.identity.linkerd.cluster.local")
    }
}
