import GRPCCore
import WeftCore

/// A message of the demo's two gRPC services, encoded as protobuf by hand (the schema is in
/// `Protos/demo/emojivoto.proto`, for other clients; nothing is generated from it).
protocol DemoMessage: Sendable {
    init(decoding reader: inout ProtobufReader) throws
    func encode(into writer: inout ProtobufWriter)
}

/// grpc-swift's serializer and deserializer for a ``DemoMessage``.
struct DemoCodec<Message: DemoMessage>: MessageSerializer, MessageDeserializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: Message) throws -> Bytes {
        var writer = ProtobufWriter()
        message.encode(into: &writer)
        return Bytes(writer.bytes)
    }

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Message {
        var reader = serializedMessageBytes.withUnsafeBytes { ProtobufReader(ArraySlice($0)) }
        return try Message(decoding: &reader)
    }
}

/// Reads every field of a message, handing those it knows to `field` and skipping the others.
private func readFields(_ reader: inout ProtobufReader, _ field: (UInt64, inout ProtobufReader) throws -> Bool) throws {
    while !reader.isAtEnd {
        let (number, wireType) = try reader.key()
        if try !field(number, &reader) { try reader.skip(wireType: wireType) }
    }
}

/// `Emoji { string unicode = 1; string shortcode = 2; }`
struct Emoji: DemoMessage, Equatable {
    var unicode = ""
    var shortcode = ""

    init(unicode: String, shortcode: String) {
        self.unicode = unicode
        self.shortcode = shortcode
    }

    init(decoding reader: inout ProtobufReader) throws {
        try readFields(&reader) { number, reader in
            switch number {
            case 1: unicode = try reader.string()
            case 2: shortcode = try reader.string()
            default: return false
            }
            return true
        }
    }

    func encode(into writer: inout ProtobufWriter) {
        writer.field(1, unicode)
        writer.field(2, shortcode)
    }
}

/// A message with no fields (`ListAllEmojiRequest`, `ResultsRequest`, `VoteResponse`).
struct EmptyMessage: DemoMessage {
    init() {}
    init(decoding reader: inout ProtobufReader) throws { try readFields(&reader) { _, _ in false } }
    func encode(into writer: inout ProtobufWriter) {}
}

/// `ListAllEmojiResponse { repeated Emoji list = 1; }`
struct EmojiList: DemoMessage {
    var list: [Emoji] = []

    init(list: [Emoji]) { self.list = list }

    init(decoding reader: inout ProtobufReader) throws {
        try readFields(&reader) { number, reader in
            guard number == 1 else { return false }
            var inner = try reader.message()
            list.append(try Emoji(decoding: &inner))
            return true
        }
    }

    func encode(into writer: inout ProtobufWriter) {
        for emoji in list {
            var inner = ProtobufWriter()
            emoji.encode(into: &inner)
            writer.field(1, message: inner)
        }
    }
}

/// `FindByShortcodeRequest`, `VoteRequest`: `{ string shortcode = 1; }`
struct ShortcodeRequest: DemoMessage {
    var shortcode = ""

    init(shortcode: String) { self.shortcode = shortcode }

    init(decoding reader: inout ProtobufReader) throws {
        try readFields(&reader) { number, reader in
            guard number == 1 else { return false }
            shortcode = try reader.string()
            return true
        }
    }

    func encode(into writer: inout ProtobufWriter) { writer.field(1, shortcode) }
}

/// `FindByShortcodeResponse { Emoji emoji = 1; }` (absent when unknown).
struct FoundEmoji: DemoMessage {
    var emoji: Emoji?

    init(emoji: Emoji?) { self.emoji = emoji }

    init(decoding reader: inout ProtobufReader) throws {
        try readFields(&reader) { number, reader in
            guard number == 1 else { return false }
            var inner = try reader.message()
            emoji = try Emoji(decoding: &inner)
            return true
        }
    }

    func encode(into writer: inout ProtobufWriter) {
        guard let emoji else { return }
        var inner = ProtobufWriter()
        emoji.encode(into: &inner)
        writer.field(1, message: inner)
    }
}

/// `ResultsResponse { repeated VotingResult results = 1; }`, `VotingResult { string shortcode = 1; int32 votes = 2; }`
struct VotingResults: DemoMessage {
    var results: [(shortcode: String, votes: Int)] = []

    init(results: [(shortcode: String, votes: Int)]) { self.results = results }

    init(decoding reader: inout ProtobufReader) throws {
        try readFields(&reader) { number, reader in
            guard number == 1 else { return false }
            var inner = try reader.message()
            var result = (shortcode: "", votes: 0)
            try readFields(&inner) { number, inner in
                switch number {
                case 1: result.shortcode = try inner.string()
                case 2: result.votes = Int(truncatingIfNeeded: try inner.varint())
                default: return false
                }
                return true
            }
            results.append(result)
            return true
        }
    }

    func encode(into writer: inout ProtobufWriter) {
        for result in results {
            var inner = ProtobufWriter()
            inner.field(1, result.shortcode)
            inner.varint(2 << 3)
            inner.varint(UInt64(result.votes))
            writer.field(1, message: inner)
        }
    }
}
