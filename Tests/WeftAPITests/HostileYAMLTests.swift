import Testing
import WeftAPI

/// reliability.md row 40: hostile YAML is refused with a precise error, quickly, with bounded
/// memory, and never partly applied.
@Suite("Hostile YAML")
struct HostileYAMLTests {
    /// Refusal must be linear-time work; this bound catches exponential or quadratic blow-ups, not
    /// small slowdowns.
    static let refusalBound = Duration.seconds(5)

    func refusal(_ text: String) -> (message: String, elapsed: Duration) {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let resources = try ManifestDecoder().decode(text, source: "hostile.yaml")
            return ("accepted \(resources.count) resources", clock.now - start)
        } catch {
            return (error.description, clock.now - start)
        }
    }

    @Test func billionLaughs() {
        var text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: lol\n  annotations:\n    a0: &a0 \"lol\"\n"
        for level in 1...9 {
            text += "    a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ",") + "]\n"
        }
        let (message, elapsed) = refusal(text)
        #expect(message == "hostile.yaml: line 6: YAML anchors (&) are not accepted; write the value out")
        #expect(elapsed < Self.refusalBound)
    }

    @Test func anchorsHiddenInFlowCollections() {
        let (message, _) = refusal("apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {a: &b c, d: *b}}\n")
        #expect(message == "hostile.yaml: line 3: YAML anchors (&) are not accepted; write the value out")
        let (alias, _) = refusal("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: *x\n")
        #expect(alias.hasPrefix("hostile.yaml: line 4: YAML aliases (*) are not accepted"))
    }

    @Test func ampersandsAndStarsInsideValuesAreFine() throws {
        let text = """
        apiVersion: policy.linkerd.io/v1alpha1
        kind: MeshTLSAuthentication
        metadata:
          name: m
          annotations:
            note: "a && b *c"
            plain: run a && b
            block: |
              &notAnAnchor *notAnAlias
        spec:
          identities: ["*", "*.ns.serviceaccount.identity.linkerd.cluster.local"]
        """
        let resources = try ManifestDecoder().decode(text, source: "ok.yaml")
        #expect(resources.count == 1)
        #expect(resources[0].metadata.annotations?["block"] == "&notAnAnchor *notAnAlias\n")
    }

    static let deepDocuments = [
        "flow sequences": String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000),
        "flow mappings": String(repeating: "{a: ", count: 10_000) + "b" + String(repeating: "}", count: 10_000),
        "compact sequences": String(repeating: "- ", count: 10_000) + "x",
    ]

    @Test(arguments: ["flow sequences", "flow mappings", "compact sequences"])
    func nestingTenThousandDeep(shape: String) {
        let text = Self.deepDocuments[shape]!
        let (message, elapsed) = refusal(text)
        #expect(message == "hostile.yaml: line 1: nesting is deeper than 64 levels", "\(shape)")
        #expect(elapsed < Self.refusalBound)
    }

    @Test func blockNestingJustOverTheLimit() {
        // 70 levels, one space each: within the pre-scan's estimate, caught by the exact walk.
        var text = ""
        for level in 0..<70 { text += String(repeating: " ", count: level) + "k:\n" }
        text += String(repeating: " ", count: 70) + "v"
        let (message, _) = refusal(text)
        #expect(message.hasPrefix("hostile.yaml: line "))
        #expect(message.hasSuffix(": nesting is deeper than 64 levels"))
    }

    @Test func fiftyMebibyteScalar() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  annotations:\n    big: "
            + String(repeating: "a", count: 50 * 1024 * 1024)
        let (message, elapsed) = refusal(text)
        #expect(message == "hostile.yaml: input is larger than 8388608 bytes")
        #expect(elapsed < Self.refusalBound)
    }

    @Test func oversizedScalarWithinTheInputLimit() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  annotations:\n    big: "
            + String(repeating: "a", count: 300 * 1024) + "\n"
        let (message, _) = refusal(text)
        #expect(message == "hostile.yaml: line 6: a value is longer than 262144 bytes")
    }

    @Test func tooManyNodes() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\nitems: [" + Array(repeating: "1", count: 100_001).joined(separator: ",") + "]\n"
        let (message, elapsed) = refusal(text)
        #expect(message.hasPrefix("hostile.yaml: line 5: document has more than 100000 nodes"))
        #expect(elapsed < Self.refusalBound)
    }

    @Test func tooManyDocuments() {
        let text = Array(repeating: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n", count: 1_001).joined(separator: "---\n")
        let (message, _) = refusal(text)
        #expect(message.hasSuffix(": more than 1000 documents"))
    }

    @Test func garbageNeverTraps() {
        // Random bytes from YAML's own alphabet: every input is either read or refused, never a crash.
        let alphabet = Array(":-[]{},&*!|>'\"#%@`?\n\t abc123\\\u{0}\u{7F}é")
        var generator = SystemRandomNumberGenerator()
        var refused = 0
        for _ in 0..<3_000 {
            let length = Int.random(in: 0...200, using: &generator)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            do {
                _ = try ManifestDecoder().decode(text, source: "fuzz")
            } catch {
                refused += 1
                #expect(!error.problems.isEmpty)
            }
        }
        #expect(refused > 0)
    }
}

@Suite("Whole-object limits")
struct ObjectLimitTests {
    @Test func annotationsOverTheirTotalSize() {
        // Each value is under the per-value limit; together they pass 256 KiB, as Kubernetes refuses.
        var text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  annotations:\n"
        for index in 0..<5 { text += "    a\(index): \"" + String(repeating: "v", count: 60 * 1024) + "\"\n" }
        do {
            _ = try ManifestDecoder().decode(text, source: "big.yaml")
            Issue.record("accepted 300 KiB of annotations")
        } catch {
            #expect(error.description == "big.yaml: document 1 (Namespace x): metadata.annotations: must take at most 262144 bytes in all")
        }
    }
}
