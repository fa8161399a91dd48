import Foundation
import NIOHTTP1
import WeftAPI
import WeftIdentity
import WeftServing
import WeftStore

/// The controller's management API, used by `weft apply`, `weft get` and `weft delete`:
///
/// - `POST /v1/apply[?dryRun=true]`, body `{"sources":[{"name":..,"text":..}]}`: every source is
///   read as multi-document YAML with the resource model's exact errors; all objects are stored,
///   or none. Answer: `{"results":[{"object":..,"kind":..,"namespace":..,"name":..,"action":..,"resourceVersion":..}]}`.
/// - `POST /v1/delete[?dryRun=true]`, same body: deletes the objects the sources name.
/// - `DELETE /v1/objects?kind=K&namespace=NS&name=N[&dryRun=true]`.
/// - `GET /v1/objects?kind=K[&namespace=NS|&allNamespaces=true][&name=N][&output=yaml|json|table|wide]`:
///   printed by the server (as kubectl's server-side printing), ready to show.
///
/// - `GET /v1/mesh`: the ``MeshDescription`` (addresses, trust anchors, issuer certificate).
/// - `POST /v1/tokens`, body ``TokenRequest``: a bootstrap token (``TokenAnswer``) for one
///   identity; only with a trust directory.
/// - `POST /v1/store/check`: writes and removes a file in the store's directory (`weft check`).
/// - Joining hosts: ``ManagementAPI/join(_:)`` and its neighbours; over TCP who may call what is
///   ``ManagementCaller``'s.
///
/// Errors are `{"code":..,"message":..}` with 400 (bad request), 404, 409 (conflict), 410, 422
/// (invalid), 507 (disk full) or 500.
public struct ManagementAPI: Sendable {
    /// The most bytes one request may carry (several manifests of up to 8 MiB each are refused
    /// by the resource model's own limit before this).
    public static let maximumBody = 32 << 20

    let store: any ResourceStore
    let metrics: ControllerMetrics
    let decoder = ManifestDecoder()
    let mesh: MeshDescription
    /// Mints bootstrap tokens; nil without a trust directory.
    let tokens: TokenSigner?
    /// Join tokens and revoked bootstrap tokens, and the pin of the trust anchor; nil without a
    /// trust directory.
    let joinTokens: JoinTokens?
    let revocations: TokenRevocations?
    let caCertHash: String?

    public init(store: any ResourceStore, metrics: ControllerMetrics, mesh: MeshDescription, trustDirectory: TrustDirectory?) throws {
        self.store = store
        self.metrics = metrics
        self.mesh = mesh
        tokens = try trustDirectory.map { try TokenSigner(directory: $0) }
        joinTokens = trustDirectory.map { JoinTokens(directory: $0) }
        revocations = trustDirectory.map { TokenRevocations(directory: $0) }
        caCertHash = try trustDirectory.map { try SPKIPin.of(anchors: $0.readAnchors()) }
    }

    /// A request on the Unix socket (its 0600 permissions are the authentication).
    public func handle(_ request: HTTPEndpointRequest) async -> HTTPEndpointResponse {
        await handle(request, caller: .local)
    }

    /// A request over TCP (TLS): what it may do depends on its credentials (``ManagementCaller``).
    public func handleTCP(_ request: HTTPEndpointRequest) async -> HTTPEndpointResponse {
        await handle(request, caller: ManagementCaller(tcp: request, trustDomain: mesh.trustDomain, tokens: tokens, revocations: revocations))
    }

    func handle(_ request: HTTPEndpointRequest, caller: ManagementCaller) async -> HTTPEndpointResponse {
        if let refusal = caller.refusal(for: request) { return refusal }
        do {
            if case .workload(let identity) = caller {
                return try await workloadRequest(request, identity: identity)
            }
            switch (request.method, request.path) {
            case (.POST, "/v1/apply"):
                return try await apply(request)
            case (.POST, "/v1/delete"):
                return try await deleteSources(request)
            case (.DELETE, "/v1/objects"):
                return try await deleteNamed(request)
            case (.GET, "/v1/objects"):
                return try await get(request)
            case (.GET, "/v1/mesh"):
                let body = try JSONEncoder().encode(mesh)
                return HTTPEndpointResponse(status: .ok, contentType: "application/json", bytes: [UInt8](body))
            case (.POST, "/v1/tokens"):
                return try token(request)
            case (.POST, "/v1/join-tokens"):
                return try createJoinToken(request)
            case (.GET, "/v1/join-tokens"):
                return try listJoinTokens()
            case (.DELETE, "/v1/join-tokens"):
                return try revokeJoinToken(request)
            case (.POST, "/v1/join"):
                return try await join(request)
            case (.POST, "/v1/store/check"):
                try await store.probeWrite()
                return Self.json(.ok, ["writable": true])
            default:
                return Self.error(.notFound, code: "notFound", "no such endpoint: \(request.method) \(request.path)")
            }
        } catch let error as StoreError {
            if error.code == .storageFull || error.code == .storageFailed { metrics.storeWriteFailed(error.code.rawValue) }
            return Self.answer(error)
        } catch let error as ManifestError {
            return Self.error(.unprocessableEntity, code: "invalid", error.description)
        } catch let error as RequestError {
            return Self.error(.badRequest, code: "badRequest", error.message)
        } catch let error as JoinTokens.Refusal {
            return Self.error(.badRequest, code: "badRequest", error.description)
        } catch {
            return Self.error(.internalServerError, code: "internal", "\(error)")
        }
    }

    struct RequestError: Error {
        let message: String
    }

    private struct Sources: Decodable {
        struct Source: Decodable {
            let name: String
            let text: String
        }
        let sources: [Source]
    }

    /// Every resource of every source, or every problem in all of them.
    private func resources(in request: HTTPEndpointRequest) throws -> [Resource] {
        let sources: Sources
        do {
            sources = try JSONDecoder().decode(Sources.self, from: Data(request.body))
        } catch {
            throw RequestError(message: "the body must be {\"sources\":[{\"name\":..,\"text\":..}]}")
        }
        var resources: [Resource] = []
        var problems: [ManifestProblem] = []
        for source in sources.sources {
            do {
                resources += try decoder.decode(source.text, source: source.name)
            } catch {
                problems += error.problems
            }
        }
        guard problems.isEmpty else { throw ManifestError(problems: problems) }
        guard !resources.isEmpty else { throw RequestError(message: "no objects in the input") }
        return resources
    }

    private func apply(_ request: HTTPEndpointRequest) async throws -> HTTPEndpointResponse {
        let outcomes = try await store.apply(resources(in: request), dryRun: request.query["dryRun"] == "true")
        return Self.results(outcomes.map { ($0.resource, $0.action.rawValue) })
    }

    /// What a joined workload's bootstrap token allows: renewing itself, reading its own
    /// ExternalWorkload, leaving.
    private func workloadRequest(_ request: HTTPEndpointRequest, identity: String) async throws -> HTTPEndpointResponse {
        switch (request.method, request.path) {
        case (.POST, "/v1/tokens"):
            return try token(request, onlyFor: identity)
        case (.POST, "/v1/leave"):
            return try await leave(request, identity: identity)
        default:
            guard await workloadMayRead(request, identity: identity) else {
                return Self.error(.forbidden, code: "forbidden", "\(identity) may read only its own ExternalWorkload")
            }
            return try await get(request)
        }
    }

    private func token(_ request: HTTPEndpointRequest, onlyFor caller: String? = nil) throws -> HTTPEndpointResponse {
        guard let tokens else {
            return Self.error(.notFound, code: "notFound", "the controller runs without a trust directory (--identity-dir): it mints no tokens")
        }
        let asked: TokenRequest
        do {
            asked = try JSONDecoder().decode(TokenRequest.self, from: Data(request.body))
        } catch {
            throw RequestError(message: "the body must be {\"identity\":..,\"ttlSeconds\":..}")
        }
        if let caller, caller != asked.identity {
            return Self.error(.forbidden, code: "forbidden", "\(caller)'s bootstrap token renews only itself, not \(asked.identity)")
        }
        let minted: (text: String, token: BootstrapToken)
        do {
            minted = try tokens.token(for: asked.identity, lifetime: TimeInterval(asked.ttlSeconds))
        } catch {
            throw RequestError(message: "\(asked.identity): \(error)")
        }
        let body = try JSONEncoder().encode(TokenAnswer(token: minted.text, id: minted.token.id, identity: minted.token.identity))
        return HTTPEndpointResponse(status: .ok, contentType: "application/json", bytes: [UInt8](body))
    }

    private func deleteSources(_ request: HTTPEndpointRequest) async throws -> HTTPEndpointResponse {
        let keys = try resources(in: request).map(ResourceKey.init)
        let removed = try await store.delete(keys, dryRun: request.query["dryRun"] == "true")
        return Self.results(removed.map { ($0, "deleted") })
    }

    private func deleteNamed(_ request: HTTPEndpointRequest) async throws -> HTTPEndpointResponse {
        let type = try kindType(request)
        guard let name = request.query["name"], !name.isEmpty else { throw RequestError(message: "a name is required") }
        let namespace = type.isNamespaced ? (request.query["namespace"] ?? "default") : ""
        let removed = try await store.delete([ResourceKey(kind: type.kind, namespace: namespace, name: name)],
                                             dryRun: request.query["dryRun"] == "true")
        return Self.results(removed.map { ($0, "deleted") })
    }

    private func kindType(_ request: HTTPEndpointRequest) throws -> any ResourceObject.Type {
        guard let text = request.query["kind"], let kind = KindNames.kind(for: text),
              let type = Resource.kinds.first(where: { $0.kind == kind }) else {
            let known = Resource.kinds.map { $0.kind }.joined(separator: ", ")
            throw RequestError(message: "unknown kind \"\(request.query["kind"] ?? "")\" (Weft stores \(known))")
        }
        return type
    }

    private func get(_ request: HTTPEndpointRequest) async throws -> HTTPEndpointResponse {
        let type = try kindType(request)
        let allNamespaces = request.query["allNamespaces"] == "true"
        let namespace = !type.isNamespaced || allNamespaces ? nil : (request.query["namespace"] ?? "default")
        var objects = await store.list(kind: type.kind, namespace: namespace, labels: [:])
        if let name = request.query["name"], !name.isEmpty {
            objects = objects.filter { $0.metadata.name == name }
            guard !objects.isEmpty else {
                throw StoreError(.notFound, "\(type.kind) \(namespace.map { "\($0)/" } ?? "")\(name) not found")
            }
        }
        let single = request.query["name"].map { !$0.isEmpty } ?? false
        let printer = ObjectPrinter(now: Date())
        switch request.query["output"] ?? "table" {
        case "yaml":
            return HTTPEndpointResponse(status: .ok, contentType: "application/yaml", body: try printer.yaml(objects))
        case "json":
            return HTTPEndpointResponse(status: .ok, contentType: "application/json", body: try printer.json(objects, single: single))
        case "table", "wide":
            return HTTPEndpointResponse(status: .ok, body: printer.table(objects, kind: type.kind, showNamespace: allNamespaces && type.isNamespaced,
                                                                         wide: request.query["output"] == "wide"))
        default:
            throw RequestError(message: "unknown output \"\(request.query["output"]!)\" (yaml, json, table or wide)")
        }
    }

    private static func results(_ items: [(Resource, String)]) -> HTTPEndpointResponse {
        let results = items.map { resource, action -> [String: String] in
            let key = ResourceKey(resource)
            return ["object": key.description, "kind": key.kind, "namespace": key.namespace, "name": key.name,
                    "action": action, "resourceVersion": resource.metadata.resourceVersion ?? ""]
        }
        return json(.ok, ["results": results])
    }

    static func answer(_ error: StoreError) -> HTTPEndpointResponse {
        let status: HTTPResponseStatus = switch error.code {
        case .invalid: .unprocessableEntity
        case .conflict: .conflict
        case .notFound: .notFound
        case .storageFull: .insufficientStorage
        case .storageFailed: .internalServerError
        case .gone: .gone
        }
        return Self.error(status, code: error.code.rawValue, error.message)
    }

    static func error(_ status: HTTPResponseStatus, code: String, _ message: String) -> HTTPEndpointResponse {
        json(status, ["code": code, "message": message])
    }

    static func json(_ status: HTTPResponseStatus, _ value: Any) -> HTTPEndpointResponse {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data("{}".utf8)
        return HTTPEndpointResponse(status: status, contentType: "application/json", body: String(decoding: data, as: UTF8.self) + "\n")
    }
}
