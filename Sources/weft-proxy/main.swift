// weft-proxy: the data-plane microproxy. Configured only by LINKERD2_PROXY_* and WEFT_PROXY_*
// environment variables; see README.md.
#if canImport(Glibc)
import Glibc
#endif
import Logging
import WeftProxy

let usage = """
    usage: weft-proxy

    The Weft data-plane proxy. It takes no arguments: it is configured by environment variables,
    Linkerd's names and defaults where Linkerd has one.

      LINKERD2_PROXY_INBOUND_LISTEN_ADDR      inbound listener (0.0.0.0:4143)
      LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR     outbound listener (127.0.0.1:4140)
      LINKERD2_PROXY_ADMIN_LISTEN_ADDR        admin: /metrics /ready /live /env.json /shutdown (127.0.0.1:4191)
      LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT   protocol detection timeout, inbound (10s)
      LINKERD2_PROXY_OUTBOUND_DETECT_TIMEOUT  protocol detection timeout, outbound (10s)
      LINKERD2_PROXY_INBOUND_CONNECT_TIMEOUT  connect timeout, inbound (300ms)
      LINKERD2_PROXY_OUTBOUND_CONNECT_TIMEOUT connect timeout, outbound (1s)
      LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION
                                              opaque ports (25,587,3306,4444,5432,6379,9300,11211)
      LINKERD2_PROXY_INBOUND_HTTP1_CONNECTION_POOL_IDLE_TIMEOUT
      LINKERD2_PROXY_OUTBOUND_HTTP1_CONNECTION_POOL_IDLE_TIMEOUT
                                              idle HTTP/1 connections to targets kept for reuse (3s)
      LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD    drain time after SIGTERM (2m)
      LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED allow POST /shutdown from loopback (false)
      LINKERD2_PROXY_INGRESS_MODE             route outbound HTTP by l5d-dst-override or authority (false)
      LINKERD2_PROXY_LOG                      log level, e.g. info or warn,linkerd=info (info)
      LINKERD2_PROXY_LOG_FORMAT               plain or json (plain)
      LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS   PEM trust anchors; turns identity on (unset)
      LINKERD2_PROXY_IDENTITY_LOCAL_NAME      this proxy's identity (or ..._SERVER_ID and ..._SERVER_NAME)
      LINKERD2_PROXY_IDENTITY_TOKEN_FILE      bootstrap token, re-read before each Certify
      LINKERD2_PROXY_IDENTITY_SVC_ADDR        identity service host:port
      LINKERD2_PROXY_IDENTITY_SVC_NAME        the identity service's expected TLS identity
      LINKERD2_PROXY_IDENTITY_MIN_REFRESH     shortest renewal delay (10s)
      LINKERD2_PROXY_IDENTITY_MAX_REFRESH     longest renewal delay (24h)
      LINKERD2_PROXY_IDENTITY_DIR             optional key.p8 + csr.der to use instead of a new key
      LINKERD2_PROXY_IDENTITY_SPIRE_SOCKET    SPIFFE mode: take the SVID of ..._SERVER_ID from this Workload API socket
      LINKERD2_PROXY_DESTINATION_SVC_ADDR     destination service host:port; turns discovery on (unset)
      LINKERD2_PROXY_DESTINATION_CONTEXT      context token sent to it (empty)
      LINKERD2_PROXY_DESTINATION_PROFILE_SUFFIXES
                                              names resolved by discovery (svc.cluster.local.)
      LINKERD2_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT
                                              an unused service stops being watched (5s)
      LINKERD2_PROXY_OUTBOUND_HTTP_QUEUE_FAILFAST_TIMEOUT
                                              wait for a service's first endpoint (3s)
      LINKERD2_PROXY_CONTROL_EXP_BACKOFF_MIN/_MAX
                                              control-plane reconnect backoff (100ms, 2s)
      LINKERD2_PROXY_POLICY_SVC_ADDR          policy service host:port; turns inbound policy on (unset)
      LINKERD2_PROXY_POLICY_WORKLOAD          this workload for it, e.g. {"ns":"shop","external_workload":"web-1"}
      LINKERD2_PROXY_INBOUND_PORTS            inbound ports whose policy is watched (bound ports always are)
      WEFT_PROXY_INBOUND_PORTS                bound ports: [ip:]port=host:port,... forwarded to the app
      WEFT_PROXY_OUTBOUND_PORTS               local ports forwarded to fixed targets: [ip:]port=host:port[@identity],...
                                              (@identity: a meshed peer, reached over mutual TLS)
      WEFT_PROXY_HTTP1_HEADER_READ_TIMEOUT    time allowed for each HTTP/1 request head (10s)
      WEFT_PROXY_HTTP2_STREAM_STALL_TIMEOUT   time an HTTP/2 stream may stay blocked by flow control (300s)

    Durations are <n>ms, <n>s, <n>m, <n>h or <n>d, or 0. See README.md.
    """
let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--help") || arguments.contains("-h") {
    print(usage)
    exit(0)
}
if let unexpected = arguments.first {
    SystemFiles.writeToStandardError("weft-proxy: unexpected argument \"\(unexpected)\"; it is configured by environment variables (see --help)\n")
    exit(2)
}

let environment = SystemFiles.environment()
let configuration: ProxyConfiguration
do {
    configuration = try ProxyConfiguration(environment: environment)
} catch {
    SystemFiles.writeToStandardError("weft-proxy: \(error)\n")
    exit(2)
}

let level = configuration.logLevel
let format = configuration.logFormat
LoggingSystem.bootstrap { label in
    var handler = ProxyLogHandler(label: label, format: format)
    handler.logLevel = level
    return handler
}
let logger = Logger(label: "weft-proxy")

do {
    try await ProxyApplication(configuration: configuration, environment: environment, logger: logger).run()
} catch {
    logger.error("stopped", metadata: ["error": "\(error)"])
    exit(1)
}
