/// The version every Weft program reports (`--version`, `proxy_build_info`, `GET /v1/mesh`),
/// which `weft check` compares across the mesh.
public enum WeftRelease {
    public static let version = "0.1.0-dev"
}
