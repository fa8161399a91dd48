"""HTTP/2 (prior knowledge) and gRPC through weft-proxy: nghttpd and grpcio behind it, curl,
h2load and grpcio in front."""
import hashlib
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent import futures

import pytest

from conftest import free_port, wait_for_port
from http_backend import pattern


@pytest.fixture
def nghttpd(tmp_path):
    if shutil.which("nghttpd") is None:
        pytest.fail("nghttpd is missing: scripts/bootstrap installs nghttp2-server")
    docroot = tmp_path / "docroot"
    docroot.mkdir()
    for size in (0, 1024 * 1024, 64 * 1024 * 1024):
        (docroot / f"{size}.bin").write_bytes(pattern(size))
    port = free_port()
    process = subprocess.Popen(["nghttpd", "--no-tls", "-d", str(docroot), str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port("127.0.0.1", port)
    yield port
    process.kill()
    process.wait()


@pytest.fixture
def h2_proxied(start_proxy, nghttpd):
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{nghttpd}")
    return proxy, port, nghttpd


@pytest.mark.parametrize("size", [0, 1024 * 1024, 64 * 1024 * 1024])
def test_h2c_download_is_byte_exact(h2_proxied, tmp_path, size):
    proxy, port, _ = h2_proxied
    out = tmp_path / "body"
    result = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", str(out), "-w", "%{http_version} %{http_code}",
                             f"http://127.0.0.1:{port}/{size}.bin"], capture_output=True, timeout=60)
    assert result.stdout == b"2 200", result.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(pattern(size)).hexdigest()


def test_h2load_multiplexed_requests_all_succeed(h2_proxied):
    proxy, port, _ = h2_proxied
    result = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "20", f"http://127.0.0.1:{port}/0.bin"],
                            capture_output=True, text=True, timeout=120)
    assert "2000 succeeded, 0 failed, 0 errored" in result.stdout, result.stdout
    metrics = proxy.metrics()
    assert sum(v for k, v in metrics.items() if k.startswith("request_total{")) == 2000
    assert sum(v for k, v in metrics.items() if k.startswith("response_total{") and 'status_code="200"' in k) == 2000
    # 4 client connections, all their streams multiplexed onto one upstream HTTP/2 connection.
    assert sum(v for k, v in metrics.items() if k.startswith('tcp_open_total{direction="inbound",peer="dst"')) == 1


def test_unreachable_h2_target(start_proxy):
    dead = free_port()
    port = free_port()
    start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{dead}")
    result = subprocess.run(["curl", "-sS", "-i", "--http2-prior-knowledge", f"http://127.0.0.1:{port}/x"],
                            capture_output=True, text=True, timeout=30)
    assert result.stdout.lower().startswith("http/2 502")
    assert f"l5d-proxy-error: connection refused: 127.0.0.1:{dead}" in result.stdout.lower()


ECHO_PROTO = """
syntax = "proto3";
package weft.test;
message Msg { string text = 1; bytes blob = 2; }
service Echo {
  rpc Unary(Msg) returns (Msg);
  rpc Chat(stream Msg) returns (stream Msg);
  rpc Fail(Msg) returns (Msg);
}
"""


@pytest.fixture(scope="module")
def echo_stubs(tmp_path_factory):
    from grpc_tools import protoc
    out = tmp_path_factory.mktemp("grpc")
    (out / "echo.proto").write_text(ECHO_PROTO)
    assert protoc.main(["protoc", f"-I{out}", f"--python_out={out}", f"--grpc_python_out={out}", str(out / "echo.proto")]) == 0
    sys.path.insert(0, str(out))
    import echo_pb2
    import echo_pb2_grpc
    return echo_pb2, echo_pb2_grpc


@pytest.fixture
def grpc_backend(echo_stubs):
    import grpc
    echo_pb2, echo_pb2_grpc = echo_stubs

    class Echo(echo_pb2_grpc.EchoServicer):
        def Unary(self, request, context):
            return echo_pb2.Msg(text=request.text.upper(), blob=request.blob)

        def Chat(self, requests, context):
            for request in requests:
                yield echo_pb2.Msg(text="echo " + request.text)

        def Fail(self, request, context):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too much " + request.text)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    echo_pb2_grpc.add_EchoServicer_to_server(Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    server.stop(0)


def test_grpc_unary_streaming_and_status_through_the_proxy(start_proxy, grpc_backend, echo_stubs):
    import grpc
    echo_pb2, echo_pb2_grpc = echo_stubs
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{grpc_backend}")
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        blob = pattern(3 * 1024 * 1024)
        reply = stub.Unary(echo_pb2.Msg(text="hi", blob=blob), timeout=20)
        assert reply.text == "HI" and reply.blob == blob
        answers = [m.text for m in stub.Chat(iter([echo_pb2.Msg(text=str(i)) for i in range(100)]), timeout=20)]
        assert answers == [f"echo {i}" for i in range(100)]
        with pytest.raises(grpc.RpcError) as failure:
            stub.Fail(echo_pb2.Msg(text="load"), timeout=20)
        assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert failure.value.details() == "too much load"
    metrics = proxy.metrics()
    assert sum(v for k, v in metrics.items() if k.startswith("response_total{") and 'grpc_status="8"' in k) == 1
    assert sum(v for k, v in metrics.items() if k.startswith("response_total{") and 'grpc_status="0"' in k) == 2


def test_grpc_to_an_unreachable_target_is_unavailable(start_proxy, echo_stubs):
    import grpc
    echo_pb2, echo_pb2_grpc = echo_stubs
    dead = free_port()
    port = free_port()
    start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{dead}")
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.RpcError) as failure:
            echo_pb2_grpc.EchoStub(channel).Unary(echo_pb2.Msg(text="x"), timeout=10)
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert f"connection refused: 127.0.0.1:{dead}" in failure.value.details()


def test_idle_shared_upstream_is_closed(start_proxy, nghttpd):
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{nghttpd}",
                        LINKERD2_PROXY_INBOUND_HTTP1_CONNECTION_POOL_IDLE_TIMEOUT="300ms")
    gauge = f'tcp_open_connections{{direction="inbound",peer="dst",target_addr="127.0.0.1:{nghttpd}",tls="disabled"}}'
    for _ in range(2):
        result = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                                 f"http://127.0.0.1:{port}/0.bin"], capture_output=True, text=True, timeout=10)
        assert result.stdout == "200"
        assert proxy.metrics()[gauge] == 1   # kept for the next client while streams come
        time.sleep(1.0)
        assert proxy.metrics()[gauge] == 0   # closed once idle
