import GRPCCore
import Synchronization

/// The demo's emoji catalogue.
enum EmojiCatalogue {
    static let all: [Emoji] = [
        ("👻", ":ghost:"), ("🎈", ":balloon:"), ("🍩", ":doughnut:"), ("🦄", ":unicorn:"), ("🌈", ":rainbow:"),
        ("🐳", ":whale:"), ("🌮", ":taco:"), ("🚀", ":rocket:"), ("🐙", ":octopus:"), ("🍕", ":pizza:"),
        ("🎉", ":tada:"), ("🔥", ":fire:"), ("🐢", ":turtle:"), ("🌵", ":cactus:"), ("🦀", ":crab:"), ("🍉", ":watermelon:"),
    ].map { Emoji(unicode: $0.0, shortcode: $0.1) }
}

/// `emojivoto.v1.EmojiService`: `ListAll` and `FindByShortcode`.
struct EmojiService: RegistrableRPCService {
    static let listAll = MethodDescriptor(fullyQualifiedService: "emojivoto.v1.EmojiService", method: "ListAll")
    static let findByShortcode = MethodDescriptor(fullyQualifiedService: "emojivoto.v1.EmojiService", method: "FindByShortcode")

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(forMethod: Self.listAll, deserializer: DemoCodec<EmptyMessage>(), serializer: DemoCodec<EmojiList>()) { request, _ in
            for try await _ in request.messages {}
            return StreamingServerResponse(single: ServerResponse(message: EmojiList(list: EmojiCatalogue.all)))
        }
        router.registerHandler(forMethod: Self.findByShortcode, deserializer: DemoCodec<ShortcodeRequest>(),
                               serializer: DemoCodec<FoundEmoji>()) { request, _ in
            var shortcode = ""
            for try await message in request.messages { shortcode = message.shortcode }
            let found = EmojiCatalogue.all.first { $0.shortcode == shortcode }
            return StreamingServerResponse(single: ServerResponse(message: FoundEmoji(emoji: found)))
        }
    }
}

/// `emojivoto.v1.VotingService`: `Vote` and `Results`. With a failure rate, that share of votes
/// fails with UNAVAILABLE (the demo's replica with a problem to find).
struct VotingService: RegistrableRPCService {
    static let vote = MethodDescriptor(fullyQualifiedService: "emojivoto.v1.VotingService", method: "Vote")
    static let results = MethodDescriptor(fullyQualifiedService: "emojivoto.v1.VotingService", method: "Results")

    let failureRate: Double
    let tally = VoteTally()

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(forMethod: Self.vote, deserializer: DemoCodec<ShortcodeRequest>(), serializer: DemoCodec<EmptyMessage>()) { request, _ in
            var shortcode = ""
            for try await message in request.messages { shortcode = message.shortcode }
            if Double.random(in: 0..<1) < failureRate {
                throw RPCError(code: .unavailable, message: "the ballot box is jammed")
            }
            tally.counts.withLock { $0[shortcode, default: 0] += 1 }
            return StreamingServerResponse(single: ServerResponse(message: EmptyMessage()))
        }
        router.registerHandler(forMethod: Self.results, deserializer: DemoCodec<EmptyMessage>(), serializer: DemoCodec<VotingResults>()) { request, _ in
            for try await _ in request.messages {}
            let results = tally.counts.withLock { $0 }.sorted { $0.value > $1.value }.map { (shortcode: $0.key, votes: $0.value) }
            return StreamingServerResponse(single: ServerResponse(message: VotingResults(results: results)))
        }
    }
}

/// The votes one voting replica has counted.
final class VoteTally: Sendable {
    let counts = Mutex([String: Int]())
}
