import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import WeftAPI
import WeftCore
import WeftServing

/// One HTTP/1.1 request on a new connection, with a timeout: how the CLI talks to the
/// controller's management API and reads proxies' admin endpoints.
struct HTTPExchange: Sendable {
    enum Endpoint: Sendable, CustomStringConvertible {
        case unix(String)
        case tcp(host: String, port: Int)

        /// A Unix socket path (it contains a `/`), else `host:port`.
        init?(parsing text: String) {
            if text.contains("/") {
                self = .unix(text)
                return
            }
            // `host:port`, an IPv6 address in brackets.
            guard let (host, port) = HostPort.split(text), let port else { return nil }
            self = .tcp(host: host, port: Int(port))
        }

        var description: String {
            switch self {
            case .unix(let path): path
            case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            }
        }

        /// The status `GET /ready` answers here (a proxy's or the controller's admin), nil when
        /// nothing answers within `timeout`.
        func readyStatus(timeout: TimeAmount) -> Int? {
            try? HTTPExchange(endpoint: self, timeout: timeout).request(.GET, "/ready").status
        }
    }

    struct Response {
        let status: Int
        let body: Data
        /// The server's clock when it answered (its `Date` header), if it said.
        var date: Date? = nil

        var text: String { String(decoding: body, as: UTF8.self) }

        /// The API's error message (`{"code":..,"message":..}`), or the body as text.
        var errorMessage: String {
            if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let message = object["message"] as? String {
                return message
            }
            return text
        }
    }

    struct ConnectionError: Error, CustomStringConvertible {
        /// What went wrong, without the endpoint.
        let reason: String
        let endpoint: Endpoint

        var description: String { "\(endpoint): \(reason)" }
    }

    /// The most bytes of an answer kept (a proxy's /metrics is far smaller).
    static let maximumBody = 16 << 20

    let endpoint: Endpoint
    var timeout: TimeAmount = .seconds(30)
    /// TLS to a controller over TCP; the bootstrap token sent as `Authorization: Bearer`.
    var tls: ControllerTLS?
    var bearer: BearerToken?

    /// `host` is the Host header (default: the endpoint).
    func request(_ method: HTTPMethod, _ uri: String, body: Data? = nil, host: String? = nil) throws -> Response {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: Response.self)
        let tlsHandler = try tls?.handler()
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(min(timeout, .seconds(5)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsHandler { try channel.pipeline.syncOperations.addHandler(tlsHandler) }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise, endpoint: endpoint))
                }
            }
        let channel: Channel
        do {
            switch endpoint {
            case .unix(let path): channel = try bootstrap.connect(unixDomainSocketPath: path).wait()
            case .tcp(let host, let port): channel = try bootstrap.connect(host: host, port: port).wait()
            }
        } catch {
            promise.fail(error)
            throw ConnectionError(reason: "cannot connect (\(error))", endpoint: endpoint)
        }
        var headers = HTTPHeaders()
        let defaultHost = if case .unix = endpoint { "weft-controller" } else { "\(endpoint)" }
        headers.add(name: "host", value: host ?? defaultHost)
        headers.add(name: "content-length", value: String(body?.count ?? 0))
        if let token = bearer?.current { headers.add(name: "authorization", value: "Bearer \(token)") }
        if body != nil { headers.add(name: "content-type", value: "application/json") }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(ConnectionError(reason: "no answer within \(timeout.nanoseconds / 1_000_000_000)s", endpoint: endpoint))
        }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        return try promise.futureResult.wait()
    }

    private final class ResponseCollector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        private let promise: EventLoopPromise<Response>
        private let endpoint: Endpoint
        private var status = 0
        private var body = Data()
        private var date: Date?

        init(promise: EventLoopPromise<Response>, endpoint: Endpoint) {
            self.promise = promise
            self.endpoint = endpoint
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = Int(head.status.code)
                date = head.headers.first(name: "date").flatMap(HTTPDate.parse)
            case .body(let buffer):
                guard body.count + buffer.readableBytes <= HTTPExchange.maximumBody else {
                    promise.fail(ConnectionError(reason: "the answer is larger than \(HTTPExchange.maximumBody) bytes", endpoint: endpoint))
                    context.close(promise: nil)
                    return
                }
                body.append(contentsOf: buffer.readableBytesView)
            case .end: promise.succeed(Response(status: status, body: body, date: date))
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ConnectionError(reason: "the connection closed before an answer", endpoint: endpoint))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}

/// Talks to `weft-controller`'s management API: its Unix socket, or a TCP address
/// (`--api-addr`) for a controller on another host.
struct ControllerClient: Sendable {
    typealias Response = HTTPExchange.Response

    struct ConnectionError: Error, CustomStringConvertible {
        let description: String
    }

    /// An error answer of the API, with its message.
    struct APIError: Error, CustomStringConvertible {
        let description: String
    }

    private(set) var exchange: HTTPExchange

    init(socket: String) {
        exchange = HTTPExchange(endpoint: .unix(socket))
    }

    init(endpoint: HTTPExchange.Endpoint, tls: ControllerTLS? = nil, bearer: BearerToken? = nil) {
        var exchange = HTTPExchange(endpoint: endpoint)
        exchange.tls = tls
        exchange.bearer = bearer
        self.exchange = exchange
    }

    /// The same client, authenticating with a joined workload's bootstrap token from now on.
    func authenticating(with bearer: BearerToken) -> ControllerClient {
        var copy = self
        copy.exchange.bearer = bearer
        return copy
    }

    func request(_ method: HTTPMethod, _ uri: String, body: Data? = nil) throws -> Response {
        do {
            return try exchange.request(method, uri, body: body)
        } catch let error as HTTPExchange.ConnectionError {
            throw ConnectionError(description: "cannot reach the controller at \(error.endpoint) (\(error.reason)); is it running? (`weft up`, or --home / WEFT_HOME / --socket)")
        }
    }

    /// A request that must answer 200; its body.
    func expectOK(_ method: HTTPMethod, _ uri: String, body: Data? = nil) throws -> Data {
        let response = try request(method, uri, body: body)
        guard response.status == 200 else {
            throw APIError(description: response.errorMessage.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return response.body
    }

    /// What the controller says about its mesh.
    func mesh() throws -> MeshDescription {
        try JSONDecoder().decode(MeshDescription.self, from: expectOK(.GET, "/v1/mesh"))
    }

    /// Stores the objects of one YAML text (all or none).
    func apply(_ yaml: String, source: String) throws {
        _ = try expectOK(.POST, "/v1/apply", body: try JSONSerialization.data(withJSONObject: ["sources": [["name": source, "text": yaml]]]))
    }

    /// Deletes one object; true when it existed.
    @discardableResult
    func delete(kind: String, namespace: String, name: String) throws -> Bool {
        let response = try request(.DELETE, "/v1/objects?kind=\(kind)&namespace=\(namespace)&name=\(name)")
        if response.status == 404 { return false }
        guard response.status == 200 else { throw APIError(description: response.errorMessage) }
        return true
    }

    /// The objects of a kind (every namespace, or one), as the JSON the API prints.
    func objects(kind: String, namespace: String? = nil, name: String? = nil) throws -> [[String: Any]] {
        var uri = "/v1/objects?kind=\(kind)&output=json"
        uri += namespace.map { "&namespace=\($0)" } ?? "&allNamespaces=true"
        if let name { uri += "&name=\(name)" }
        let response = try request(.GET, uri)
        if response.status == 404, name != nil { return [] }
        guard response.status == 200 else { throw APIError(description: response.errorMessage) }
        let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        if name != nil, let object, object["items"] == nil { return [object] }
        return object?["items"] as? [[String: Any]] ?? []
    }
}
