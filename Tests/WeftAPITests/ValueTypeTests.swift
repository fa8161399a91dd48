import Testing
import WeftAPI
import WeftCore

@Suite("Resource value types")
struct ValueTypeTests {
    @Test(arguments: [
        ("0", Int64(0)), ("300ms", 300_000_000), ("1m30s", 90_000_000_000), ("1.5h", 5_400_000_000_000),
        ("10s", 10_000_000_000), ("2h45m", 9_900_000_000_000), ("1us", 1_000), ("1µs", 1_000), ("5ns", 5), (".5s", 500_000_000),
    ])
    func goDurations(text: String, nanoseconds: Int64) throws {
        #expect(try GoDuration.parse(text).get().nanoseconds == nanoseconds)
    }

    @Test func gatewayAPIDurationFormat() throws {
        for valid in ["0s", "1h", "1m30s", "500ms", "99999ms", "1h2m3s4ms"] {
            #expect(try GoDuration.parse(valid).get().isGatewayAPIFormat, "\(valid)")
        }
        for invalid in ["1.5s", "100us", "100000ms", "1h2m3s4ms5ms", "0"] {
            #expect(try !GoDuration.parse(invalid).get().isGatewayAPIFormat, "\(invalid)")
        }
    }

    @Test(arguments: ["", "10", "1d", "s", "-1s", "1..5s", "1s2", "+", "1 s"])
    func badGoDurations(text: String) {
        #expect(throws: DurationError.self) { try GoDuration.parse(text).get() }
    }

    @Test(arguments: [
        ("1", Int64(1000)), ("500m", 500), ("0.5", 500), ("2k", 2_000_000), ("1Ki", 1_024_000),
        ("1e3", 1_000_000), ("1.5", 1500), ("-1", -1000), ("1n", 1), ("0", 0),
    ])
    func quantities(text: String, milli: Int64) throws {
        #expect(Quantity(parsing: text)?.milliValue == milli)
    }

    @Test(arguments: ["", "m", "1x", "1KI", "1e", "1e1000", "abc", "1.2.3", "99999999999999999E"])
    func badQuantities(text: String) {
        #expect(Quantity(parsing: text) == nil)
    }

    @Test(arguments: [
        ("10.1.2.3", "10.1.2.3"), ("0.0.0.0", "0.0.0.0"), ("::", "::"), ("::1", "::1"), ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("fe80::1:2", "fe80::1:2"), ("::ffff:10.0.0.1", "::ffff:a00:1"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1::", "1::"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
    ])
    func ipAddresses(text: String, canonical: String) {
        #expect(IPAddress(text)?.description == canonical)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.-4", "1::2::3", ":::", "1:2:3:4:5:6:7:8:9",
        "12345::", "g::1", "fe80::1%eth0", "1.2.3.4/8", " 1.2.3.4", "::1.2.3",
    ])
    func badIPAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func networks() throws {
        let net = try IPNetwork(parsing: "10.1.2.3/8")
        #expect(net.description == "10.0.0.0/8")
        #expect(net.contains(try IPNetwork(parsing: "10.200.0.0/16")))
        #expect(!net.contains(try IPNetwork(parsing: "11.0.0.0/16")))
        #expect(!net.contains(try IPNetwork(parsing: "::/0")))
        #expect(try IPNetwork(parsing: "0.0.0.0/0").contains(IPAddress("203.0.113.9")!))
        #expect(try IPNetwork(parsing: "fd00::1/8").description == "fd00::/8")
        #expect(try IPNetwork(parsing: "2001:db8::/33").contains(IPAddress("2001:db8:7fff::1")!))
        #expect(try !IPNetwork(parsing: "2001:db8::/33").contains(IPAddress("2001:db8:8000::1")!))
        #expect(try IPNetwork(parsing: "192.0.2.7").prefixLength == 32)
        for bad in ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/a", "/8", "10.0.0.0/0008"] {
            #expect(throws: IPNetwork.ParseError.self) { try IPNetwork(parsing: bad) }
        }
    }

    @Test func labelSelectors() {
        let selector = LabelSelector(
            matchLabels: ["app": "web"],
            matchExpressions: [
                .init(key: "tier", operator: .in, values: ["front", "edge"]),
                .init(key: "canary", operator: .doesNotExist),
                .init(key: "zone", operator: .notIn, values: ["b"]),
                .init(key: "team", operator: .exists),
            ])
        #expect(selector.matches(["app": "web", "tier": "front", "team": "x"]))
        #expect(selector.matches(["app": "web", "tier": "edge", "team": "x", "zone": "a"]))
        #expect(!selector.matches(["app": "web", "tier": "front", "team": "x", "canary": "1"]))
        #expect(!selector.matches(["app": "web", "tier": "back", "team": "x"]))
        #expect(!selector.matches(["app": "web", "tier": "front", "team": "x", "zone": "b"]))
        #expect(!selector.matches(["app": "web", "tier": "front"]))
        #expect(!selector.matches(["app": "api", "tier": "front", "team": "x"]))
        #expect(LabelSelector().matches([:]))
    }

    @Test func identityPatterns() throws {
        let web = try WorkloadIdentity(parsing: "web.emojivoto.serviceaccount.identity.linkerd.cluster.local")
        let vm = try WorkloadIdentity(parsing: "spiffe://root.linkerd.cluster.local/vm")
        #expect(try IdentityPattern(parsing: "*").matches(vm))
        #expect(try IdentityPattern(parsing: "*.emojivoto.serviceaccount.identity.linkerd.cluster.local").matches(web))
        #expect(try !IdentityPattern(parsing: "*.other.serviceaccount.identity.linkerd.cluster.local").matches(web))
        // A suffix must end at a label boundary and never matches SPIFFE IDs.
        #expect(try !IdentityPattern(parsing: "*.b.emojivoto.serviceaccount.identity.linkerd.cluster.local").matches(web))
        #expect(try !IdentityPattern(parsing: "*.cluster.local").matches(vm))
        #expect(try IdentityPattern(parsing: "spiffe://root.linkerd.cluster.local/vm").matches(vm))
        #expect(try !IdentityPattern(parsing: "spiffe://root.linkerd.cluster.local/vm2").matches(vm))
        for bad in ["**", "*.", "*.Foo", "spiffe://x/../y", "web.", ""] {
            #expect(throws: IdentityParseError.self) { try IdentityPattern(parsing: bad) }
        }
    }

    @Test func regexRule() {
        for safe in ["^/api/[a-z]+$", "/v[0-9]+/items", "(a|b)+", "(?:abc)+", "a+b*", "[(a+)]+", "\\(a+\\)+"] {
            #expect(RegexRule.problem(with: safe) == nil, "\(safe)")
        }
        for nested in ["(a+)+$", "(a*)*", "((ab)+)+", "(x+x+)+y", "(a+){2,}", "(?:a+)+"] {
            #expect(RegexRule.problem(with: nested)?.contains("nests quantifiers") == true, "\(nested)")
        }
        #expect(RegexRule.problem(with: "([a-z")?.contains("not a valid regular expression") == true)
        #expect(RegexRule.problem(with: String(repeating: "a", count: 1025))?.contains("longer than 1024") == true)
    }

    @Test func nameRules() {
        #expect(NameRules.dnsLabel("web-1") == nil)
        #expect(NameRules.dnsLabel(String(repeating: "a", count: 64)) != nil)
        #expect(NameRules.dnsSubdomain("web.emojivoto.svc.cluster.local") == nil)
        #expect(NameRules.dnsSubdomain("web..x") != nil)
        #expect(NameRules.labelKey("linkerd.io/inject") == nil)
        #expect(NameRules.labelKey("app.kubernetes.io/Name_1") == nil)
        #expect(NameRules.labelKey("Bad_Prefix/x") != nil)
        #expect(NameRules.labelKey("a/b/c") != nil)
        #expect(NameRules.portName("http") == nil)
        #expect(NameRules.portName("h2c-1") == nil)
        for bad in ["80", "-http", "http-", "a--b", "HTTP", "averyveryverylongname"] {
            #expect(NameRules.portName(bad) != nil, "\(bad)")
        }
        #expect(NameRules.hostname("*.example.com") == nil)
        #expect(NameRules.hostname("10.0.0.1") != nil)
        #expect(NameRules.hostname("*") != nil)
        #expect(NameRules.headerName("x-b3-traceid") == nil)
        #expect(NameRules.headerName("x:y") != nil)
    }
}
