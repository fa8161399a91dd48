"""A test network of "hosts": each a network namespace with its own addresses, routes and
iptables, joined by veth pairs to a bridge in a namespace of its own (which also routes between
two subnets when asked). Made and removed by each test, as root; traffic never leaves it.

    with Topology({"ctl": "v4", "vm1": "v4", "vm2": "dual", "vm3": "v6"}) as net:
        net["vm1"].run("curl", "-s", f"http://{net['ctl'].ipv4}:8080/")
        with net.capture() as pcap: ...
        net["ctl"].unplug(); net["ctl"].plug()
"""
import contextlib
import ipaddress
import os
import signal
import struct
import subprocess
import time

needs_root = "needs root: builds network namespaces, veth pairs and a bridge"


def sh(*command, check=True, timeout=30, **kwargs):
    return subprocess.run(command, check=check, capture_output=True, text=True, timeout=timeout, **kwargs)


class Host:
    """One namespace on the test network: `ipv4` / `ipv6` (either may be None), `run` and
    `popen` commands inside it, `unplug`/`plug` its link at the bridge."""

    def __init__(self, net, name, index, family, subnet):
        self.net, self.name, self.family, self.subnet = net, name, family, subnet
        self.namespace = f"wt{net.tag}{name}"
        self.bridge_side = f"wt{net.tag}h{index}"
        self.ipv4 = f"10.80.{subnet}.{index + 1}" if family in ("v4", "dual") else None
        self.ipv6 = str(ipaddress.IPv6Address(f"fd80:{subnet}::{index + 1}")) if family in ("v6", "dual") else None

    @property
    def address(self):
        """The address peers reach it at: IPv4 when it has one."""
        return self.ipv4 or self.ipv6

    def url_host(self, ipv6=False):
        return f"[{self.ipv6}]" if ipv6 or not self.ipv4 else self.ipv4

    def command(self, *command):
        return ["ip", "netns", "exec", self.namespace, *command]

    def run(self, *command, check=True, timeout=30, **kwargs):
        return sh(*self.command(*command), check=check, timeout=timeout, **kwargs)

    def popen(self, *command, **kwargs):
        """A process in this host (in a process group of its own, stopped with the network)."""
        process = subprocess.Popen(self.command(*command), start_new_session=True, **kwargs)
        self.net.processes.append(process)
        return process

    def unplug(self):
        sh("ip", "-n", self.net.bridge_namespace, "link", "set", self.bridge_side, "down")

    def plug(self):
        sh("ip", "-n", self.net.bridge_namespace, "link", "set", self.bridge_side, "up")

    def create(self):
        bridge = self.net.bridge_namespace
        sh("ip", "netns", "add", self.namespace)
        sh("ip", "-n", bridge, "link", "add", self.bridge_side, "type", "veth", "peer", "name", "eth0", "netns", self.namespace)
        sh("ip", "-n", bridge, "link", "set", self.bridge_side, "master", f"br{self.subnet}")
        sh("ip", "-n", bridge, "link", "set", self.bridge_side, "up")
        inside = ["ip", "-n", self.namespace]
        sh(*inside, "link", "set", "lo", "up")
        if self.ipv4:
            sh(*inside, "addr", "add", f"{self.ipv4}/24", "dev", "eth0")
        if self.ipv6:
            sh(*inside, "addr", "add", f"{self.ipv6}/64", "dev", "eth0", "nodad")
        sh(*inside, "link", "set", "eth0", "up")
        if self.net.subnets > 1:
            if self.ipv4:
                sh(*inside, "route", "add", "default", "via", f"10.80.{self.subnet}.254")
            if self.ipv6:
                sh(*inside, "-6", "route", "add", "default", "via", f"fd80:{self.subnet}::fe")


class Topology:
    """Hosts by name → "v4", "v6" or "dual"; `subnets=2` puts the hosts in two subnets (odd
    hosts in the second) routed by the bridge namespace."""

    def __init__(self, hosts, subnets=1):
        assert os.geteuid() == 0, needs_root
        assert subnets in (1, 2)
        self.tag = f"{os.getpid() % 10000}{int(time.monotonic() * 1000) % 100}"
        self.subnets = subnets
        self.bridge_namespace = f"wt{self.tag}br"
        self.processes = []
        self.hosts = {name: Host(self, name, index, family, index % subnets) for index, (name, family) in enumerate(hosts.items())}

    def __getitem__(self, name):
        return self.hosts[name]

    def __enter__(self):
        try:
            sh("ip", "netns", "add", self.bridge_namespace)
            for subnet in range(self.subnets):
                bridge = ["ip", "-n", self.bridge_namespace]
                sh(*bridge, "link", "add", f"br{subnet}", "type", "bridge")
                sh(*bridge, "link", "set", f"br{subnet}", "up")
                if self.subnets > 1:
                    sh(*bridge, "addr", "add", f"10.80.{subnet}.254/24", "dev", f"br{subnet}")
                    sh(*bridge, "addr", "add", f"fd80:{subnet}::fe/64", "dev", f"br{subnet}", "nodad")
            if self.subnets > 1:
                sh("ip", "netns", "exec", self.bridge_namespace, "sysctl", "-qw", "net.ipv4.ip_forward=1")
                sh("ip", "netns", "exec", self.bridge_namespace, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
            for host in self.hosts.values():
                host.create()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc):
        self.remove()

    def remove(self):
        """Stops every process in the network's namespaces, then deletes them (and their links)."""
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        namespaces = [host.namespace for host in self.hosts.values()] + [self.bridge_namespace]
        for namespace in namespaces:
            for pid in sh("ip", "netns", "pids", namespace, check=False).stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
        for process in self.processes:
            with contextlib.suppress(Exception):
                process.wait(timeout=5)
        for namespace in namespaces:
            sh("ip", "netns", "del", namespace, check=False)

    @contextlib.contextmanager
    def capture(self, path):
        """Records every frame on the bridges (tcpdump -w `path`) while the block runs."""
        dump = subprocess.Popen(["ip", "netns", "exec", self.bridge_namespace, "tcpdump", "-i", "any", "-U", "-s", "0", "-w", str(path), "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        # tcpdump says "listening on" once it captures.
        said = []
        while not said or "listening on" not in said[-1]:
            said.append(dump.stderr.readline().decode(errors="replace"))
            assert said[-1], "tcpdump did not start: " + "".join(said)
        try:
            yield path
        finally:
            time.sleep(0.5)
            dump.send_signal(signal.SIGINT)
            dump.wait(timeout=10)


def tcp_streams(path):
    """The TCP payload of each direction of each connection in a pcap file (tcpdump's Linux
    "cooked" capture, v1 or v2, or Ethernet): {(src, sport, dst, dport): bytes}, segments put in
    sequence order once each."""
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    link_type = struct.unpack(endian + "I", data[20:24])[0]
    offset, segments = 24, {}
    while offset + 16 <= len(data):
        _, _, captured, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + captured]
        offset += 16 + captured
        if link_type == 1:  # Ethernet
            ethertype, packet = struct.unpack(">H", frame[12:14])[0], frame[14:]
        elif link_type == 113:  # Linux cooked v1
            ethertype, packet = struct.unpack(">H", frame[14:16])[0], frame[16:]
        elif link_type == 276:  # Linux cooked v2
            ethertype, packet = struct.unpack(">H", frame[0:2])[0], frame[20:]
        else:
            raise AssertionError(f"unexpected pcap link type {link_type}")
        if ethertype == 0x0800:
            header = (packet[0] & 0x0F) * 4
            src, dst = ".".join(map(str, packet[12:16])), ".".join(map(str, packet[16:20]))
            total = struct.unpack(">H", packet[2:4])[0]
            tcp = packet[header:total]
        elif ethertype == 0x86DD:
            if packet[6] != 6:
                continue
            src, dst = _ipv6(packet[8:24]), _ipv6(packet[24:40])
            tcp = packet[40:40 + struct.unpack(">H", packet[4:6])[0]]
        else:
            continue
        sport, dport, sequence = struct.unpack(">HHI", tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload:
            segments.setdefault((src, sport, dst, dport), {})[sequence] = payload
    return {flow: b"".join(parts[s] for s in sorted(parts)) for flow, parts in segments.items()}


def _ipv6(raw):
    return str(ipaddress.IPv6Address(raw))


def is_tls(stream):
    """Whether a byte stream is TLS records from its first byte (the last may be cut short)."""
    position = 0
    while position + 5 <= len(stream):
        kind, major, length = stream[position], stream[position + 1], struct.unpack(">H", stream[position + 3:position + 5])[0]
        if kind not in (20, 21, 22, 23) or major != 3 or length > (1 << 14) + 256:
            return False
        position += 5 + length
    return position >= len(stream) or len(stream) - position < 5
