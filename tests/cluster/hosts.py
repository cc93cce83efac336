"""A department's deployment on one machine: hosts as Linux network namespaces on one bridge.

Each host is a namespace with a veth pair into the bridge `llc0` and one address in 10.77.0.0/24;
hosts reach each other only over those addresses (nothing leaves the machine: the bridge has no
uplink and no route out). The services host runs private instances of PostgreSQL, Redis and an
S3 server (moto's server mode) on its own address, so the test may restart Redis or cut S3 off
without touching the machine's own services. The test driver stays in the root namespace and
talks to the hosts over the bridge's address, as a browser on the department's network would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(Path(sys.executable))
BRIDGE = "llc0"
SUBNET = "10.77.0"
DRIVER_ADDRESS = f"{SUBNET}.254"  # the root namespace's end: the test driver, like a browser
PREFIX = "llc-"


def sh(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=check, capture_output=True, text=True)


def namespaces_available() -> str:
    """Empty if this machine lets us make namespaces; else why not (the test then skips)."""
    if os.geteuid() != 0:
        return "the cluster test makes network namespaces and must run as root"
    if not shutil.which("ip"):
        return "the `ip` command (iproute2) is missing"
    probe = f"{PREFIX}probe"
    made = sh("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    sh("ip", "netns", "del", probe, check=False)
    return ""


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    return found[-1].parent if found else None


@dataclass
class Host:
    name: str
    address: str

    @property
    def netns(self) -> str:
        return PREFIX + self.name

    def run(self, *command: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
        """Run a command in this host to completion; its output, or an error naming the host."""
        done = subprocess.run(
            ["ip", "netns", "exec", self.netns, *command],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout


@dataclass
class Service:
    """A long-running process in a host, in its own process group so that it dies whole."""

    name: str
    host: Host
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.host.netns, *self.command],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, number: int) -> None:
        if self.running:
            assert self.process is not None
            os.killpg(self.process.pid, number)

    def kill(self) -> None:
        """SIGKILL the whole group: a lost machine, no chance to clean up."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if not self.running:
            return
        assert self.process is not None
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self, tail: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""


@dataclass
class Network:
    hosts: dict[str, Host] = field(default_factory=dict)

    def add(self, name: str, last_octet: int) -> Host:
        host = Host(name, f"{SUBNET}.{last_octet}")
        outside, inside = f"{PREFIX}{name}"[:15], "eth0"
        sh("ip", "netns", "add", host.netns)
        sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", host.netns)
        sh("ip", "link", "set", outside, "master", BRIDGE, "up")
        sh("ip", "-n", host.netns, "addr", "add", f"{host.address}/24", "dev", inside)
        sh("ip", "-n", host.netns, "link", "set", inside, "up")
        sh("ip", "-n", host.netns, "link", "set", "lo", "up")
        self.hosts[name] = host
        return host

    def up(self) -> None:
        remove_leftovers()
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        sh("ip", "addr", "add", f"{DRIVER_ADDRESS}/24", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")

    def cut(self, host: Host, address: str) -> None:
        """`host` can no longer reach `address`: connections fail at once (no route)."""
        sh("ip", "-n", host.netns, "route", "add", "unreachable", f"{address}/32")

    def heal(self, host: Host, address: str) -> None:
        sh("ip", "-n", host.netns, "route", "del", "unreachable", f"{address}/32", check=False)


def remove_leftovers() -> None:
    """Namespaces and the bridge of an earlier run that was killed before its clean-up."""
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name.startswith(PREFIX):
            for pid in sh("ip", "netns", "pids", name, check=False).stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            sh("ip", "netns", "del", name, check=False)
    # A veth whose namespace is still held by a dying process outlives `ip netns del`.
    for line in sh("ip", "-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if line.count(":") >= 2 else ""
        if name.startswith(PREFIX) or name == BRIDGE:
            sh("ip", "link", "del", name, check=False)


def wait_for_port(
    address: str, port: int, *, timeout: float, what: str, service: Service | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service is not None and not service.running:
            raise RuntimeError(f"{what} exited while starting:\n{service.log()}")
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    log = service.log() if service else ""
    raise RuntimeError(f"{what} did not listen on {address}:{port} within {timeout:.0f} s\n{log}")
