import Foundation
import Testing
import WeftIdentity
import WeftTesting

/// Certificates minted at run time by the test kit's CA, checked against the peer rules.
@Suite("Peer certificate rules")
struct PeerCertificateRulesTests {
    let ca: TestCA

    init() throws {
        ca = try TestCA()
    }

    @Test func aWorkloadCertificateMayIdentifyAPeer() throws {
        let dns = try ca.mint(.init(dnsNames: ["web.shop.serviceaccount.identity.linkerd.cluster.local"]))
        #expect(PeerCertificateRules.problem(dns.certificate) == nil)
        let svid = try ca.mint(.init(uris: ["spiffe://cluster.local/ns/shop/sa/web"]))
        #expect(PeerCertificateRules.problem(svid.certificate) == nil)
    }

    @Test func otherCertificatesMayNot() throws {
        var authority = TestCA.Leaf(dnsNames: ["web.shop"])
        authority.isCertificateAuthority = true
        #expect(PeerCertificateRules.problem(try ca.mint(authority).certificate) == "it is a CA certificate")
        let twoURIs = try ca.mint(.init(uris: ["spiffe://cluster.local/a", "spiffe://cluster.local/b"]))
        #expect(PeerCertificateRules.problem(twoURIs.certificate)?.contains("2 URI SANs") == true)
        let notSPIFFE = try ca.mint(.init(uris: ["https://example.com/web"]))
        #expect(PeerCertificateRules.problem(notSPIFFE.certificate)?.contains("not a SPIFFE ID") == true)
        let nameless = try ca.mint(.init())
        #expect(PeerCertificateRules.problem(nameless.certificate)?.contains("names no identity") == true)
    }

    @Test func mintedCertificatesChainToTheRootAndCarryTheirValidity() throws {
        var expired = TestCA.Leaf(dnsNames: ["old.shop"])
        expired.notBefore = Date() - 7_200
        expired.notAfter = Date() - 3_600
        let minted = try ca.mint(expired)
        #expect(minted.certificate.issuer == ca.root.subject)
        #expect(minted.certificate.notValidAfter < Date())
        #expect(minted.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(minted.keyPEM.contains("PRIVATE KEY"))
    }
}
