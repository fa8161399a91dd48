"""The admin server: probes, metrics, env.json and /shutdown."""
import json
import socket

from conftest import free_port


def test_probes_and_unknown_paths(start_proxy):
    proxy = start_proxy()
    assert proxy.get("/ready") == (200, "ready\n")
    assert proxy.get("/live") == (200, "live\n")
    assert proxy.get("/nope")[0] == 404


def test_metrics_format(start_proxy):
    proxy = start_proxy()
    status, text = proxy.get("/metrics")
    assert status == 200
    assert "# TYPE process_cpu_seconds_total counter" in text
    assert 'proxy_build_info{version="0.1.0-dev",vendor="weft"} 1' in text
    assert proxy.metrics()["process_resident_memory_bytes"] > 1_000_000


def test_env_json(start_proxy):
    proxy = start_proxy(WEFT_TEST_VALUE='a "quoted"\nvalue')
    status, body = proxy.get("/env.json?WEFT_TEST_VALUE&WEFT_UNSET")
    assert status == 200
    assert json.loads(body) == {"WEFT_TEST_VALUE": 'a "quoted"\nvalue', "WEFT_UNSET": None}
    assert proxy.get("/env.json?A=b")[0] == 400
    assert "WEFT_TEST_VALUE" in json.loads(proxy.get("/env.json")[1])


def test_shutdown_endpoint_is_off_by_default(start_proxy):
    proxy = start_proxy()
    assert proxy.get("/shutdown", method="POST")[0] == 404
    assert proxy.process.poll() is None


def test_shutdown_endpoint_when_enabled(start_proxy):
    proxy = start_proxy(LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED="true")
    assert proxy.get("/shutdown")[0] == 405
    assert proxy.get("/shutdown", method="POST") == (200, "shutdown\n")
    assert proxy.process.wait(timeout=10) == 0


def test_bad_configuration_names_the_variable():
    import subprocess
    from conftest import weft_binary
    result = subprocess.run([str(weft_binary("weft-proxy"))], env={"LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT": "1.5s"},
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert result.stderr == ('weft-proxy: invalid LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT="1.5s": expected a whole number '
                             'with a unit ms, s, m, h or d (e.g. 300ms, 10s, 2m), or 0\n')


def test_admin_survives_garbage(start_proxy):
    proxy = start_proxy()
    for junk in (b"\x00\x01\x02\r\n\r\n", b"GET /metrics HTTP/1.1\r\n" + b"X: " + b"a" * 200_000 + b"\r\n\r\n", b"BREW / HTCPCP/1.0\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", proxy.admin_port), timeout=5) as client:
            client.sendall(junk)
            client.shutdown(socket.SHUT_WR)
            reply = client.recv(100)
            assert reply == b"" or reply.startswith(b"HTTP/1.1 4")
    assert proxy.get("/live") == (200, "live\n")


def test_help_and_unexpected_arguments():
    import subprocess
    from conftest import weft_binary
    help_text = subprocess.run([str(weft_binary("weft-proxy")), "--help"], capture_output=True, text=True, timeout=10)
    assert help_text.returncode == 0
    assert "LINKERD2_PROXY_INBOUND_LISTEN_ADDR" in help_text.stdout and "WEFT_PROXY_INBOUND_PORTS" in help_text.stdout
    wrong = subprocess.run([str(weft_binary("weft-proxy")), "--port", "1"], capture_output=True, text=True, timeout=10)
    assert wrong.returncode == 2
    assert wrong.stderr == 'weft-proxy: unexpected argument "--port"; it is configured by environment variables (see --help)\n'
