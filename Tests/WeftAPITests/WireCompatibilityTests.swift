import Foundation
import SwiftProtobuf
import Testing
import WeftAPI
import WeftCore
import WeftTesting

/// Swift's encoding of every proxy-API message family against Python's protobuf, built from the
/// same .proto files (compiled by grpcio-tools at test time) and the same cases
/// (wire/cases.json, protobuf JSON form).
@Suite("Wire compatibility with Python protobuf")
struct WireCompatibilityTests {
    static let types: [String: any SwiftProtobuf.Message.Type] = [
        "io.linkerd.proxy.net.TcpAddress": Io_Linkerd_Proxy_Net_TcpAddress.self,
        "io.linkerd.proxy.net.IPNetwork": Io_Linkerd_Proxy_Net_IPNetwork.self,
        "io.linkerd.proxy.meta.Metadata": Io_Linkerd_Proxy_Meta_Metadata.self,
        "io.linkerd.proxy.identity.CertifyRequest": Io_Linkerd_Proxy_Identity_CertifyRequest.self,
        "io.linkerd.proxy.identity.CertifyResponse": Io_Linkerd_Proxy_Identity_CertifyResponse.self,
        "io.linkerd.proxy.destination.GetDestination": Io_Linkerd_Proxy_Destination_GetDestination.self,
        "io.linkerd.proxy.destination.Update": Io_Linkerd_Proxy_Destination_Update.self,
        "io.linkerd.proxy.destination.DestinationProfile": Io_Linkerd_Proxy_Destination_DestinationProfile.self,
        "io.linkerd.proxy.inbound.PortSpec": Io_Linkerd_Proxy_Inbound_PortSpec.self,
        "io.linkerd.proxy.inbound.Server": Io_Linkerd_Proxy_Inbound_Server.self,
        "io.linkerd.proxy.outbound.TrafficSpec": Io_Linkerd_Proxy_Outbound_TrafficSpec.self,
        "io.linkerd.proxy.outbound.OutboundPolicy": Io_Linkerd_Proxy_Outbound_OutboundPolicy.self,
        "io.linkerd.proxy.tap.ObserveRequest": Io_Linkerd_Proxy_Tap_ObserveRequest.self,
        "io.linkerd.proxy.tap.TapEvent": Io_Linkerd_Proxy_Tap_TapEvent.self,
        "transport.l5d.io.Header": Transport_L5d_Io_Header.self,
    ]

    struct Case {
        let name: String
        let message: any SwiftProtobuf.Message
    }

    static let wireDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("wire")
    static let protoDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Protos")

    static func loadCases() throws -> [Case] {
        let data = try Data(contentsOf: wireDirectory.appendingPathComponent("cases.json"))
        let entries = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        return try entries.map { entry in
            let name = try #require(entry["name"] as? String)
            let typeName = try #require(entry["type"] as? String)
            let type = try #require(types[typeName], "no Swift type registered for \(typeName)")
            let json = try JSONSerialization.data(withJSONObject: try #require(entry["json"]))
            return Case(name: name, message: try type.init(jsonUTF8Bytes: json, extensions: nil, options: JSONDecodingOptions()))
        }
    }

    static func deterministicHex(_ message: any SwiftProtobuf.Message) throws -> String {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let bytes: [UInt8] = try message.serializedBytes(partial: false, options: options)
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Runs the Python half; fails with its stderr when Python or its packages are missing.
    static func python(_ mode: String, input: Data? = nil) throws -> [String: String] {
        let python = ProcessInfo.processInfo.environment["WEFT_PYTHON"] ?? "python3"
        let script = wireDirectory.appendingPathComponent("wire_cases.py").path
        let outcome = try ChildProcess.run(URL(fileURLWithPath: "/usr/bin/env"), [python, script, protoDirectory.path, mode], stdin: input)
        guard outcome.status == 0 else {
            throw PythonFailure(message: "wire_cases.py \(mode) failed (run scripts/test, which installs protobuf and grpcio-tools): "
                                + outcome.standardError)
        }
        let output = outcome.stdout
        return try #require(try JSONSerialization.jsonObject(with: output) as? [String: String])
    }

    struct PythonFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    @Test func swiftBytesEqualPythonBytesAndDecodeBack() throws {
        let cases = try Self.loadCases()
        #expect(cases.count >= 30)
        let python = try Self.python("emit")
        for testCase in cases {
            let swiftHex = try Self.deterministicHex(testCase.message)
            let pythonHex = try #require(python[testCase.name], "Python made no bytes for \(testCase.name)")
            #expect(swiftHex == pythonHex, "\(testCase.name): Swift and Python encodings differ")
            // Python's bytes decode in Swift to the very message Swift built.
            let bytes = stride(from: 0, to: pythonHex.count, by: 2).map { offset -> UInt8 in
                let start = pythonHex.index(pythonHex.startIndex, offsetBy: offset)
                return UInt8(pythonHex[start..<pythonHex.index(start, offsetBy: 2)], radix: 16)!
            }
            let decoded = try type(of: testCase.message).init(serializedBytes: bytes, extensions: nil, partial: false, options: BinaryDecodingOptions())
            #expect(decoded.isEqualTo(message: testCase.message), "\(testCase.name): Python's bytes decode to a different message")
        }
    }

    @Test func pythonDecodesSwiftBytes() throws {
        var encoded: [String: String] = [:]
        for testCase in try Self.loadCases() {
            encoded[testCase.name] = try Self.deterministicHex(testCase.message)
        }
        let verdicts = try Self.python("check", input: try JSONSerialization.data(withJSONObject: encoded))
        for (name, verdict) in verdicts.sorted(by: { $0.key < $1.key }) {
            #expect(verdict == "ok", "\(name): \(verdict)")
        }
        #expect(verdicts.count == encoded.count)
    }

    @Test func everyOneofArmIsCovered() throws {
        // Each oneof arm of the API appears in at least one case (checked on the Swift messages).
        let json = try Self.loadCases().map { try $0.message.jsonString() }.joined(separator: "\n")
        for arm in [
            "\"ipv4\"", "\"ipv6\"", "\"default\"", "\"resource\"", "\"add\"", "\"remove\"", "\"noEndpoints\"",
            "\"dnsLikeIdentity\"", "\"uriLikeIdentity\"", "\"h2\"", "\"opaque\"", "\"all\"", "\"any\"", "\"not\"",
            "\"path\"", "\"method\"", "\"status\"", "\"registered\"", "\"unregistered\"", "\"exact\"", "\"suffix\"",
            "\"prefix\"", "\"regex\"", "\"full\"", "\"detect\"", "\"tls\"", "\"http1\"", "\"http2\"", "\"grpc\"",
            "\"unauthenticated\"", "\"meshTLS\"", "\"identities\"", "\"failureInjector\"", "\"requestHeaderModifier\"",
            "\"redirect\"", "\"responseHeaderModifier\"", "\"empty\"", "\"firstAvailable\"", "\"randomAvailable\"",
            "\"forward\"", "\"balancer\"", "\"dst\"", "\"peakEwma\"", "\"consecutiveFailures\"", "\"addr\"",
            "\"authority\"", "\"source\"", "\"destination\"", "\"http\"", "\"destinationLabel\"", "\"routeLabel\"",
            "\"netmask\"", "\"ports\"", "\"scheme\"", "\"headers\"", "\"requestInit\"", "\"responseInit\"",
            "\"responseEnd\"", "\"grpcStatusCode\"", "\"resetErrorCode\"", "\"sessionProtocol\"",
        ] {
            #expect(json.contains(arm), "no case uses \(arm)")
        }
    }
}

/// The byte-level facts of the reference (linkerd-compat.md §1), written out by hand.
@Suite("Proxy API byte facts")
struct WireFactTests {
    static func bytes(_ message: some SwiftProtobuf.Message) throws -> [UInt8] {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return try message.serializedBytes(partial: false, options: options)
    }

    @Test func ipv4IsAFixed32OfBigEndianOctets() throws {
        let address = Io_Linkerd_Proxy_Net_IPAddress(IPAddress("10.1.2.3")!)
        #expect(address.ipv4 == 0x0A01_0203)
        // Field 1, wire type 5 (fixed32), then the number little-endian.
        #expect(try Self.bytes(address) == [0x0D, 0x03, 0x02, 0x01, 0x0A])
        #expect(address.address == IPAddress("10.1.2.3"))
    }

    @Test func ipv6IsTwoFixed64Halves() throws {
        let address = Io_Linkerd_Proxy_Net_IPAddress(IPAddress("2001:db8::1")!)
        #expect(address.ipv6.first == 0x2001_0DB8_0000_0000)
        #expect(address.ipv6.last == 1)
        #expect(try Self.bytes(address) == [
            0x12, 0x12,
            0x09, 0x00, 0x00, 0x00, 0x00, 0xB8, 0x0D, 0x01, 0x20,
            0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ])
        #expect(address.address == IPAddress("2001:db8::1"))
    }

    @Test func meshTLSKeepsItsCamelCaseName() throws {
        var authn = Io_Linkerd_Proxy_Inbound_Authn()
        authn.meshTls = .init()
        authn.meshTls.unauthenticated = .init()
        #expect(try Self.bytes(authn) == [0x12, 0x02, 0x0A, 0x00])
        #expect(try authn.jsonString() == #"{"meshTLS":{"unauthenticated":{}}}"#)
    }

    @Test func grpcRetryConditionNumbersAreGRPCCodes() throws {
        var conditions = Io_Linkerd_Proxy_Outbound_GrpcRoute.Retry.Conditions()
        conditions.cancelled = true
        conditions.deadineExceeded = true
        conditions.resourceExhausted = true
        conditions.internal = true
        conditions.unavailable = true
        // Fields 1, 4, 8, 13 and 14 = CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE.
        #expect(try Self.bytes(conditions) == [0x08, 0x01, 0x20, 0x01, 0x40, 0x01, 0x68, 0x01, 0x70, 0x01])
    }

    @Test func mapsDurationsAndTimestamps() throws {
        var set = Io_Linkerd_Proxy_Destination_WeightedAddrSet()
        set.metricLabels = ["a": "b"]
        #expect(try Self.bytes(set) == [0x12, 0x06, 0x0A, 0x01, 0x61, 0x12, 0x01, 0x62])

        var budget = Io_Linkerd_Proxy_Destination_RetryBudget()
        budget.ttl = Google_Protobuf_Duration(seconds: 10)
        #expect(try Self.bytes(budget) == [0x1A, 0x02, 0x08, 0x0A])

        var response = Io_Linkerd_Proxy_Identity_CertifyResponse()
        // 1,800,000,000 as a varint is 80 A4 A7 DA 06 (seven bits at a time, low first).
        response.validUntil = Google_Protobuf_Timestamp(seconds: 1_800_000_000, nanos: 5)
        #expect(try Self.bytes(response) == [0x1A, 0x08, 0x08, 0x80, 0xA4, 0xA7, 0xDA, 0x06, 0x10, 0x05])
    }

    @Test func tlsIdentityFieldNumbers() throws {
        var identity = Io_Linkerd_Proxy_Destination_TlsIdentity()
        identity.uriLikeIdentity.uri = "x"
        identity.serverName.name = "y"
        // uri_like_identity = 3, server_name = 4 (2 is reserved for k8s_pod_identity).
        #expect(try Self.bytes(identity) == [0x1A, 0x03, 0x0A, 0x01, 0x78, 0x22, 0x03, 0x0A, 0x01, 0x79])
        var addr = Io_Linkerd_Proxy_Destination_WeightedAddr()
        addr.weight = 1
        addr.protocolHint.opaqueTransport.inboundPort = 4143
        // weight = 3, protocol_hint = 6 holding opaque_transport = 2 holding inbound_port = 1.
        #expect(try Self.bytes(addr) == [0x18, 0x01, 0x32, 0x05, 0x12, 0x03, 0x08, 0xAF, 0x20])
    }
}
