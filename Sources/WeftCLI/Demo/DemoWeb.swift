import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOHTTP1
import WeftServing

/// The demo's web front: HTTP/1.1 with JSON answers, calling the emoji and voting services over
/// gRPC through its proxy's outbound listener (the `:authority` names the service).
///
/// - `GET /api/list`: every emoji (EmojiService/ListAll).
/// - `GET /api/vote?choice=:shortcode:`: finds the emoji, then votes for it; 404 for an unknown
///   one, 500 when the vote fails.
/// - `GET /api/leaderboard`: the votes so far (of the voting replica that answered).
struct DemoWeb: Sendable {
    let emoji: GRPCClient<HTTP2ClientTransport.Posix>
    let voting: GRPCClient<HTTP2ClientTransport.Posix>

    /// A plaintext client for `authority`, connected to the proxy's outbound `host:port`.
    static func client(outbound: (host: String, port: Int), authority: String) throws -> GRPCClient<HTTP2ClientTransport.Posix> {
        var config = HTTP2ClientTransport.Posix.Config.defaults
        config.http2.authority = authority
        return GRPCClient(transport: try HTTP2ClientTransport.Posix(target: .ipv4(address: outbound.host, port: outbound.port),
                                                                    transportSecurity: .plaintext, config: config))
    }

    func handle(_ request: HTTPEndpointRequest) async -> HTTPEndpointResponse {
        do {
            switch request.path {
            case "/api/list":
                let list = try await emoji.unary(request: ClientRequest(message: EmptyMessage()), descriptor: EmojiService.listAll,
                                                 serializer: DemoCodec<EmptyMessage>(), deserializer: DemoCodec<EmojiList>(),
                                                 options: .defaults) { try $0.message }
                return Self.json(.ok, list.list.map { ["unicode": $0.unicode, "shortcode": $0.shortcode] })
            case "/api/vote":
                let choice = request.query["choice"] ?? ""
                let found = try await emoji.unary(request: ClientRequest(message: ShortcodeRequest(shortcode: choice)),
                                                  descriptor: EmojiService.findByShortcode, serializer: DemoCodec<ShortcodeRequest>(),
                                                  deserializer: DemoCodec<FoundEmoji>(), options: .defaults) { try $0.message }
                guard let emoji = found.emoji else { return Self.json(.notFound, ["error": "no emoji \(choice)"]) }
                _ = try await voting.unary(request: ClientRequest(message: ShortcodeRequest(shortcode: emoji.shortcode)),
                                           descriptor: VotingService.vote, serializer: DemoCodec<ShortcodeRequest>(),
                                           deserializer: DemoCodec<EmptyMessage>(), options: .defaults) { try $0.message }
                return Self.json(.ok, ["voted": emoji.shortcode, "unicode": emoji.unicode])
            case "/api/leaderboard":
                let results = try await voting.unary(request: ClientRequest(message: EmptyMessage()), descriptor: VotingService.results,
                                                     serializer: DemoCodec<EmptyMessage>(), deserializer: DemoCodec<VotingResults>(),
                                                     options: .defaults) { try $0.message }
                return Self.json(.ok, results.results.map { ["shortcode": $0.shortcode, "votes": $0.votes] as [String: Any] })
            default:
                return Self.json(.notFound, ["error": "no such page: \(request.path)"])
            }
        } catch {
            return Self.json(.internalServerError, ["error": "\(error)"])
        }
    }

    static func json(_ status: HTTPResponseStatus, _ value: Any) -> HTTPEndpointResponse {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data("{}".utf8)
        return HTTPEndpointResponse(status: status, contentType: "application/json", bytes: [UInt8](data) + [0x0A])
    }
}
