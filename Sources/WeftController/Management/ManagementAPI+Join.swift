import Foundation
import NIOHTTP1
import WeftAPI
import WeftCore
import WeftIdentity
import WeftServing
import WeftStore

/// Joining hosts (mesh expansion):
///
/// - `POST /v1/join-tokens` (``JoinTokenRequest``), `GET /v1/join-tokens`,
///   `DELETE /v1/join-tokens?id=ID`: operators mint, list and revoke join tokens.
/// - `POST /v1/join` (``JoinRequest``, no credentials but the token): registers one workload
///   within the token's namespace and name prefix and answers a bootstrap token for it.
/// - `POST /v1/leave` (``LeaveRequest``), with that bootstrap token: the workload leaves.
extension ManagementAPI {
    func createJoinToken(_ request: HTTPEndpointRequest) throws -> HTTPEndpointResponse {
        guard let joinTokens, let caCertHash else { throw RequestError(message: "the controller runs without a trust directory: no join tokens") }
        let asked = try Self.decode(JoinTokenRequest.self, request, shape: "{\"namespace\":..,\"namePrefix\":..,\"ttlSeconds\":..,\"uses\":..}")
        guard NameRules.dnsLabel(asked.namespace) == nil else { throw RequestError(message: "namespace \"\(asked.namespace)\" is not a DNS label") }
        let minted = try joinTokens.create(namespace: asked.namespace, namePrefix: asked.namePrefix,
                                           lifetime: TimeInterval(asked.ttlSeconds), uses: asked.uses)
        let answer = JoinTokenAnswer(token: minted.text, id: minted.entry.id, expires: ISO8601DateFormatter().string(from: minted.entry.expires),
                                     caCertHash: caCertHash)
        return HTTPEndpointResponse(status: .ok, contentType: "application/json", bytes: [UInt8](try JSONEncoder().encode(answer)))
    }

    func listJoinTokens() throws -> HTTPEndpointResponse {
        guard let joinTokens else { throw RequestError(message: "the controller runs without a trust directory: no join tokens") }
        let formatter = ISO8601DateFormatter()
        let items: [[String: Any]] = try joinTokens.list().map { entry in
            ["id": entry.id, "namespace": entry.namespace, "namePrefix": entry.namePrefix, "expires": formatter.string(from: entry.expires),
             "uses": entry.uses, "usesLeft": entry.usesLeft.map { $0 as Any } ?? NSNull(), "revoked": entry.revoked]
        }
        return Self.json(.ok, ["items": items])
    }

    func revokeJoinToken(_ request: HTTPEndpointRequest) throws -> HTTPEndpointResponse {
        guard let joinTokens else { throw RequestError(message: "the controller runs without a trust directory: no join tokens") }
        guard let id = request.query["id"], !id.isEmpty else { throw RequestError(message: "give the token's id") }
        do {
            try joinTokens.revoke(id: id)
        } catch let refusal as JoinTokens.Refusal {
            return Self.error(.notFound, code: "notFound", refusal.description)
        }
        return Self.json(.ok, ["revoked": id])
    }

    /// Checks the objects against the request (before the token is counted), redeems the token,
    /// applies them and mints the workload's bootstrap token.
    func join(_ request: HTTPEndpointRequest) async throws -> HTTPEndpointResponse {
        guard let joinTokens, let tokens else { throw RequestError(message: "the controller runs without a trust directory: no joining") }
        let asked = try Self.decode(JoinRequest.self, request, shape: "{\"token\":..,\"namespace\":..,\"name\":..,\"manifests\":..}")
        let resources = try decoder.decode(asked.manifests, source: "join")
        let snapshot = await store.snapshot()
        let identity = try joinedIdentity(asked, resources, in: snapshot)
        do {
            _ = try joinTokens.redeem(asked.token, namespace: asked.namespace, name: asked.name)
        } catch let refusal as JoinTokens.Refusal {
            return Self.error(.forbidden, code: "forbidden", refusal.description)
        }
        // The Namespace and Service only when missing: joining never changes what exists.
        let kept = resources.filter { resource in resource.kind == ExternalWorkload.kind || snapshot.objects[ResourceKey(resource)] == nil }
        _ = try await store.apply(kept, dryRun: false)
        let minted = try tokens.token(for: identity, lifetime: TokenSigner.maximumLifetime)
        let answer = JoinAnswer(mesh: mesh, bootstrapToken: TokenAnswer(token: minted.text, id: minted.token.id, identity: minted.token.identity),
                                createdService: kept.contains { $0.kind == Service.kind })
        return HTTPEndpointResponse(status: .ok, contentType: "application/json", bytes: [UInt8](try JSONEncoder().encode(answer)))
    }

    /// The identity of the one ExternalWorkload a join registers, once every object is within
    /// the request's namespace and a workload of that name (if any) has the same identity.
    private func joinedIdentity(_ asked: JoinRequest, _ resources: [Resource], in snapshot: StoreSnapshot) throws -> String {
        var identity: String?
        for resource in resources {
            let key = ResourceKey(resource)
            switch resource {
            case .namespace where key.name == asked.namespace, .service where key.namespace == asked.namespace:
                continue
            case .externalWorkload(let workload) where key.namespace == asked.namespace && key.name == asked.name && identity == nil:
                guard let named = workload.identity?.description, ControlPlaneCaller.namespace(of: named) == asked.namespace,
                      named.hasSuffix(".\(mesh.trustDomain)") || named.hasPrefix("spiffe://\(mesh.trustDomain)/") else {
                    throw RequestError(message: "ExternalWorkload \(key.namespace)/\(key.name) must have an identity of namespace \(asked.namespace) in \(mesh.trustDomain)")
                }
                if case .externalWorkload(let existing)? = snapshot.objects[key], existing.identity?.description != named {
                    throw RequestError(message: "ExternalWorkload \(key.namespace)/\(key.name) exists with another identity")
                }
                identity = named
            default:
                throw RequestError(message: "a join registers the Namespace \(asked.namespace), a Service in it and the ExternalWorkload \(asked.namespace)/\(asked.name), not \(key)")
            }
        }
        guard let identity else { throw RequestError(message: "a join needs the ExternalWorkload \(asked.namespace)/\(asked.name)") }
        return identity
    }

    /// A joined workload leaves: its ExternalWorkload (it must have the caller's identity), and
    /// the Service `weft run` created for it when no workload is left in it.
    func leave(_ request: HTTPEndpointRequest, identity: String) async throws -> HTTPEndpointResponse {
        let asked = try Self.decode(LeaveRequest.self, request, shape: "{\"namespace\":..,\"name\":..,\"service\":..}")
        let key = ResourceKey(kind: ExternalWorkload.kind, namespace: asked.namespace, name: asked.name)
        let snapshot = await store.snapshot()
        guard case .externalWorkload(let workload)? = snapshot.objects[key], workload.identity?.description == identity else {
            return Self.error(.forbidden, code: "forbidden", "\(identity) may remove only its own ExternalWorkload, not \(key)")
        }
        var keys = [key]
        if let service = asked.service, case .service(let found)? = snapshot[Service.kind, asked.namespace, service],
           found.metadata.annotations?["weft.io/created-by"] == "weft run \(asked.name)" {
            let others = snapshot.list(kind: ExternalWorkload.kind, namespace: asked.namespace).filter {
                $0.metadata.name != asked.name && $0.metadata.labels?["app"] == service
            }
            if others.isEmpty { keys.append(ResourceKey(kind: Service.kind, namespace: asked.namespace, name: service)) }
        }
        let removed = try await store.delete(keys, dryRun: false)
        return Self.json(.ok, ["removed": removed.map { ResourceKey($0).description }])
    }

    /// A workload reads only its own ExternalWorkload.
    func workloadMayRead(_ request: HTTPEndpointRequest, identity: String) async -> Bool {
        guard request.query["kind"].flatMap(KindNames.kind(for:)) == ExternalWorkload.kind, let name = request.query["name"] else { return false }
        let key = ResourceKey(kind: ExternalWorkload.kind, namespace: request.query["namespace"] ?? "default", name: name)
        guard case .externalWorkload(let workload)? = await store.snapshot().objects[key] else { return false }
        return workload.identity?.description == identity
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: HTTPEndpointRequest, shape: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(request.body))
        } catch {
            throw RequestError(message: "the body must be \(shape)")
        }
    }
}
