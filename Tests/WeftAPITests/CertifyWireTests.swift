import Foundation
import SwiftProtobuf
import Testing
import WeftAPI
import WeftIdentity

/// The proxy's hand-written Certify codec against the generated protobuf types.
@Suite("Certify wire format")
struct CertifyWireTests {
    @Test func requestBytesEqualTheGeneratedEncoding() throws {
        for (identity, token, csr) in [("web.shop.serviceaccount.identity.linkerd.cluster.local", Array("tok".utf8), [UInt8](repeating: 7, count: 300)),
                                       ("", [], []), ("spiffe://td/x", [UInt8](repeating: 1, count: 20_000), [0x30])] {
            var generated = Io_Linkerd_Proxy_Identity_CertifyRequest()
            generated.identity = identity
            generated.token = Data(token)
            generated.certificateSigningRequest = Data(csr)
            #expect(CertifyWire.encodeRequest(identity: identity, token: token, csr: csr) == Array(try generated.serializedBytes() as [UInt8]))
        }
    }

    @Test func decodesTheGeneratedResponse() throws {
        var generated = Io_Linkerd_Proxy_Identity_CertifyResponse()
        generated.leafCertificate = Data([1, 2, 3] + [UInt8](repeating: 9, count: 1000))
        generated.intermediateCertificates = [Data([4, 5]), Data([6])]
        generated.validUntil = Google_Protobuf_Timestamp(seconds: 1_795_806_090, nanos: 887_091_160)
        var bytes: [UInt8] = try generated.serializedBytes()
        bytes += [0x20, 0x96, 0x01, 0x2D, 1, 2, 3, 4]  // unknown fields 4 (varint) and 5 (fixed32) are skipped
        let decoded = try CertifyWire.decodeResponse(bytes)
        #expect(decoded.leafCertificate == Array(generated.leafCertificate))
        #expect(decoded.intermediateCertificates == [[4, 5], [6]])
        #expect(decoded.validUntil?.seconds == 1_795_806_090 && decoded.validUntil?.nanos == 887_091_160)
    }

    @Test func refusesTruncatedAndMalformedBytes() {
        for bad: [UInt8] in [[0x0A, 0x05, 1, 2], [0x0A], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], [0x00], [0x0B]] {
            #expect(throws: CertifyWire.DecodingError.self) { try CertifyWire.decodeResponse(bad) }
        }
    }
}
