"""The deployment under test: a services host (PostgreSQL, Redis, S3), two web hosts (daphne) and
two worker hosts (queue "gpu", queue "default"), each started as a department would start it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

from webapp.launcher import worker_command

from .hosts import PYTHON, SUBNET, Host, Network, Service, postgres_bin, sh, wait_for_port

PG_PORT, REDIS_PORT, S3_PORT, WEB_PORT, AMQP_PORT = 5432, 6379, 9000, 8000, 5672
# The broker of the queues: the Redis (default) or RabbitMQ (CLUSTER_BROKER=rabbitmq), both on the
# services host; Redis carries the live events either way.
BROKER = os.environ.get("CLUSTER_BROKER", "redis")
BUCKET = "lesslabel-cluster"
S3_KEYS = {"S3_ACCESS_KEY_ID": "testing", "S3_SECRET_ACCESS_KEY": "testing"}
# A killed worker's run is failed within RUN_STALE_SECONDS plus one sweep (a third of it).
STALE_SECONDS = 12


@dataclass
class Cluster:
    folder: Path
    network: Network
    services: dict[str, Service] = field(default_factory=dict)
    s3_address: str = ""
    started: float = field(default_factory=time.monotonic)

    # The hosts.
    @property
    def svc(self) -> Host:
        return self.network.hosts["services"]

    def web(self, number: int) -> Host:
        return self.network.hosts[f"web{number}"]

    def url(self, number: int) -> str:
        return f"http://{self.web(number).address}:{WEB_PORT}"

    @property
    def app_hosts(self) -> list[Host]:
        return [h for name, h in self.network.hosts.items() if name != "services"]

    def app_env(self, host: Host, **extra: str) -> dict[str, str]:
        """What every process of the app gets: the shared services, by address, and tight timings."""
        svc = self.svc.address
        webs = [self.web(n).address for n in (1, 2)]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.folder),
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "LESSLABEL_VAR_DIR": str(self.folder / "var" / host.name),
            "SECRET_KEY": "cluster-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "DATABASE_URL": f"postgres://postgres@{svc}:{PG_PORT}/lesslabel",
            "REDIS_URL": f"redis://{svc}:{REDIS_PORT}/0",
            "BROKER_URL": f"amqp://guest:guest@{svc}:{AMQP_PORT}/" if BROKER == "rabbitmq" else "",
            "S3_BUCKET": BUCKET,
            "S3_ENDPOINT_URL": f"http://{self.s3_address}:{S3_PORT}",
            "S3_REGION": "us-east-1",
            **S3_KEYS,
            "S3_TIMEOUT_SECONDS": "3",
            "S3_MAX_ATTEMPTS": "2",
            "ALLOWED_HOSTS": ",".join(webs),
            "CSRF_TRUSTED_ORIGINS": ",".join(f"http://{a}:{WEB_PORT}" for a in webs),
            "RUN_HEARTBEAT_SECONDS": "1",
            "RUN_STALE_SECONDS": str(STALE_SECONDS),
            "TRAIN_DEVICE": "cpu",
            "OMP_NUM_THREADS": "1",
            "dramatiq_queue_prefetch": "1",
            "dramatiq_worker_timeout": "200",
        }
        env.update(extra)
        return env

    def s3(self) -> object:
        """A boto3 client of the bucket, from the driver's side of the bridge."""
        return boto3.client(
            "s3",
            endpoint_url=f"http://{self.s3_address}:{S3_PORT}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2}),
        )

    def manage(self, host: Host, *args: str, timeout: float = 180) -> str:
        return host.run(PYTHON, "manage.py", *args, env=self.app_env(host), timeout=timeout)

    # Processes.
    def start(self, name: str, host: Host, command: list[str], env: dict[str, str]) -> Service:
        service = Service(name, host, command, env, self.folder / f"{name}.log").start()
        self.services[name] = service
        return service

    def start_redis(self) -> Service:
        # No persistence: a restart loses every queued message, the worst case the app must survive.
        command = ["redis-server", "--bind", self.svc.address, "--port", str(REDIS_PORT), "--save", ""]
        command += ["--appendonly", "no", "--protected-mode", "no", "--dir", str(self.folder)]
        redis = self.start("redis", self.svc, command, {"PATH": os.environ["PATH"]})
        wait_for_port(self.svc.address, REDIS_PORT, timeout=20, what="redis", service=redis)
        return redis

    def start_web(self, number: int, *, wait: bool = True) -> Service:
        host = self.web(number)
        command = [PYTHON, "-m", "daphne", "-b", host.address, "-p", str(WEB_PORT), "webapp.asgi:application"]
        web = self.start(f"web{number}", host, command, self.app_env(host))
        if wait:
            self.web_ready(number)
        return web

    def web_ready(self, number: int) -> None:
        host = self.web(number)
        service = self.services[f"web{number}"]
        wait_for_port(host.address, WEB_PORT, timeout=90, what=f"daphne on web{number}", service=service)
        # The first request loads the URLconf, and with it PyTorch (training's views): tens of
        # seconds on a busy machine. A load balancer's health check would do the same.
        urllib.request.urlopen(f"http://{host.address}:{WEB_PORT}/healthz", timeout=180).read()

    def start_worker(self, queue: str) -> Service:
        host = self.network.hosts[f"worker-{queue}"]
        return self.start(f"worker-{queue}", host, worker_command(PYTHON, queue), self.app_env(host))

    def stop_all(self) -> None:
        """The app's processes first (all at once), then the services they use."""
        app = [s for s in self.services.values() if s.host.name != "services"]
        services = [s for s in self.services.values() if s.host.name == "services"]
        for group in (app, services):
            for service in group:
                service.signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for service in group:
                if service.process is not None:
                    try:
                        service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        service.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ---\n{s.log(2500)}" for s in self.services.values())


def start_postgres(cluster: Cluster) -> Service:
    """A private PostgreSQL in the services host (it refuses to run as root: it runs as postgres)."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("no PostgreSQL under /usr/lib/postgresql/*/bin")
    data = cluster.folder / "pg"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    sh("runuser", "-u", "postgres", "--", str(binaries / "initdb"), "-D", str(data), "-A", "trust",
       "-U", "postgres", "--no-sync")  # fmt: skip
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write("host all all 10.77.0.0/24 trust\n")
    command = ["runuser", "-u", "postgres", "--", str(binaries / "postgres"), "-D", str(data)]
    command += ["-c", f"listen_addresses={cluster.svc.address}", "-c", f"unix_socket_directories={data}"]
    command += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    postgres = cluster.start("postgres", cluster.svc, command, {"PATH": os.environ["PATH"]})
    wait_for_port(cluster.svc.address, PG_PORT, timeout=30, what="postgres", service=postgres)
    cluster.svc.run("runuser", "-u", "postgres", "--", str(binaries / "createdb"), "-h", cluster.svc.address,
                    "lesslabel")  # fmt: skip
    return postgres


def start_rabbitmq(cluster: Cluster) -> Service:
    """A private RabbitMQ node in the services host, its files in the cluster's folder."""
    base = cluster.folder / "rabbitmq"
    base.mkdir()
    (base / "rabbitmq.conf").write_text(
        f"loopback_users = none\nlisteners.tcp.default = {cluster.svc.address}:{AMQP_PORT}\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(base),
        "RABBITMQ_NODENAME": "rabbit@localhost",
        "RABBITMQ_BASE": str(base),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(base / "pid"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
    }
    rabbit = cluster.start("rabbitmq", cluster.svc, ["/usr/lib/rabbitmq/bin/rabbitmq-server"], env)
    wait_for_port(cluster.svc.address, AMQP_PORT, timeout=120, what="rabbitmq", service=rabbit)
    return rabbit


def start_s3(cluster: Cluster) -> Service:
    moto = str(Path(PYTHON).parent / "moto_server")
    s3 = cluster.start("s3", cluster.svc, [moto, "-H", cluster.s3_address, "-p", str(S3_PORT)],
                       {"PATH": os.environ["PATH"]})  # fmt: skip
    wait_for_port(cluster.s3_address, S3_PORT, timeout=30, what="moto S3 server", service=s3)
    cluster.s3().create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
    return s3


def build() -> Cluster:
    """Everything up; on any failure the caller tears down what was made."""
    network = Network()
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="lesslabel-cluster-")), network)
    cluster.folder.chmod(0o755)  # postgres (not root) reads its data folder below it
    network.up()
    network.add("services", 1)
    for number, name in enumerate(("web1", "web2", "worker-gpu", "worker-default")):
        network.add(name, 11 + number)
    # S3 answers on a second address of the services host, so it can be cut off alone.
    cluster.s3_address = f"{SUBNET}.5"
    sh("ip", "-n", cluster.svc.netns, "addr", "add", f"{cluster.s3_address}/24", "dev", "eth0")
    for host in network.hosts.values():
        (cluster.folder / "var" / host.name).mkdir(parents=True)
    start_postgres(cluster)
    cluster.start_redis()
    start_s3(cluster)
    if BROKER == "rabbitmq":
        start_rabbitmq(cluster)
    # Workers boot (PyTorch imports) while the tables are made; their sweeper retries until then.
    cluster.start_worker("gpu")
    cluster.start_worker("default")
    cluster.manage(cluster.web(1), "migrate", "--noinput")
    cluster.start_web(1, wait=False)
    cluster.start_web(2, wait=False)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(cluster.web_ready, (1, 2)))
    return cluster


def teardown(cluster: Cluster | None) -> None:
    from .hosts import remove_leftovers

    if cluster is not None:
        cluster.stop_all()
    remove_leftovers()
    if cluster is not None and not os.environ.get("CLUSTER_KEEP_LOGS"):
        shutil.rmtree(cluster.folder, ignore_errors=True)
