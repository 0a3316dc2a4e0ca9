"""Budgets of a cluster read (issue 12, finding 3): hostile API servers on loopback, `hedgehog-sync check`.

Each server misbehaves the way a broken or malicious API server or proxy would: a chunked body that
never ends, a gzip bomb nobody asked for, a continue token that comes back forever, one byte a second
in the body or in the headers. The installed console script runs against it in a fresh wrapper
process that reports the check's exit code, elapsed time and peak RSS (ru_maxrss of its children),
so the figures are the check's own. Every case must end with exit 2, within its budget plus margin,
under 512 MiB, with the budget named in the report.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from hedgehog_sync.connectors.kubernetes import BUDGETS, ReadBudgets, api_client_for, read_live
from hedgehog_sync.devlab.apiserver import write_kubeconfig
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo
from hedgehog_sync.domain.errors import BudgetExceededError, ClusterConfigError, ClusterTimeoutError
from hedgehog_sync.domain.kinds import KINDS
from hedgehog_sync_tests.leaks import assert_no_leak

CONSOLE_SCRIPT = Path(sys.executable).with_name("hedgehog-sync")
FABRIC = "fab-hostile"
PEAK_RSS_LIMIT_KIB = 512 * 1024
MARGIN_S = 25.0  # process start and imports on a shared 2-core machine; never a speed assertion
VPC = next(k for k in KINDS if k.kind == "VPC")


# --- a raw HTTP/1.1 server that answers whatever a scenario writes ------------------------------
@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


Handler = Callable[[Request, socket.socket, threading.Event], None]


class HostileServer:
    """HTTP on 127.0.0.1 from raw sockets: `handler(request, conn, stopped)` writes the whole answer,
    any bytes at any pace; the connection is closed after it. Every loop ends when stopped."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self.requests: list[Request] = []
        self.stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            head = b""
            try:
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
                parts = urlsplit(target)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                request = Request(method, parts.path, query, headers)
                self.requests.append(request)
                self.handler(request, conn, self.stopped)
            except OSError:
                pass  # the client hung up: what a budget is for

    def stop(self) -> None:
        self.stopped.set()
        self._listener.close()
        self._accepting.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)


def head(status: str = "200 OK", **headers: str | int) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def json_answer(conn: socket.socket, doc: Any, status: str = "200 OK") -> None:
    body = json.dumps(doc).encode()
    conn.sendall(head(status, Content_Type="application/json", Content_Length=len(body), Connection="close") + body)


def endless_chunked(request: Request, conn: socket.socket, stopped: threading.Event) -> None:
    conn.sendall(head(Content_Type="application/json", Transfer_Encoding="chunked"))
    piece = b'{"items": [' + b'{"metadata": {"name": "x"}},' * 2000
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    ends = time.monotonic() + 120
    while not stopped.is_set() and time.monotonic() < ends:
        conn.sendall(chunk)


def _gzip_bomb() -> bytes:
    # Concatenated gzip members are one valid gzip stream: ~13 MB that inflates to 12.5 GiB.
    member = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    return member * 200


GZIP_BOMB: list[bytes] = []


def gzip_bomb(request: Request, conn: socket.socket, stopped: threading.Event) -> None:
    if not GZIP_BOMB:
        GZIP_BOMB.append(_gzip_bomb())
    bomb = GZIP_BOMB[0]
    conn.sendall(head(Content_Type="application/json", Content_Encoding="gzip", Content_Length=len(bomb)))
    for start in range(0, len(bomb), 1 << 20):
        if stopped.is_set():
            return
        conn.sendall(bomb[start:start + (1 << 20)])


def continue_loop(request: Request, conn: socket.socket, stopped: threading.Event) -> None:
    json_answer(conn, {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPCList",
                       "metadata": {"continue": "the-same-token-again"}, "items": []})


def fresh_pages(delay: float = 0.0) -> Handler:
    """Endless pages, each with a new continue token, each after `delay` seconds."""
    def handler(request: Request, conn: socket.socket, stopped: threading.Event) -> None:
        stopped.wait(delay)
        page = int(request.query.get("continue", "0") or 0)
        json_answer(conn, {"metadata": {"continue": str(page + 1)},
                           "items": [{"metadata": {"name": f"vpc-{page}-{i}"}} for i in range(3)]})
    return handler


def slow_body(request: Request, conn: socket.socket, stopped: threading.Event) -> None:
    conn.sendall(head(Content_Type="application/json", Content_Length=1_000_000))
    conn.sendall(b'{"items": [')
    ends = time.monotonic() + 120
    while not stopped.is_set() and time.monotonic() < ends:
        conn.sendall(b" ")
        stopped.wait(1.0)


def slow_headers(request: Request, conn: socket.socket, stopped: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    ends = time.monotonic() + 120
    while not stopped.is_set() and time.monotonic() < ends:
        conn.sendall(b"a")
        stopped.wait(1.0)


# --- the fabric: a small local Git repository and a kubeconfig pointing at the hostile server --
VPC_FILE = """apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata: {name: vpc-1}
spec:
  subnets:
    default: {subnet: 10.0.1.0/24, vlan: 1001}
"""


@dataclass
class Fabric:
    root: Path
    inventory: Path
    kubeconfig: Path
    token: str
    state: Path = field(init=False)

    def __post_init__(self) -> None:
        self.state = self.root / "state"


def make_fabric(root: Path, server_url: str, token: str | None = None) -> Fabric:
    repo = init_repo(root / "git")
    commit_files(repo, {"vpcs/vpc-1.yaml": VPC_FILE}, "one VPC")
    token = token or f"hostile-bearer-{secrets.token_hex(16)}"
    kubeconfig = write_kubeconfig(root / "kube" / f"{FABRIC}.kubeconfig", server_url, token, FABRIC)
    inventory = root / "fabrics.yaml"
    inventory.write_text(yaml.safe_dump({"fabrics": [{
        "name": FABRIC, "priority": "high",
        "git": {"url": f"file://{root / 'git'}", "ref": "main", "allow_local": True},
        "kubernetes": {"kubeconfig": str(kubeconfig), "context": FABRIC},
    }]}, sort_keys=False))
    return Fabric(root, inventory, kubeconfig, token)


# A fresh interpreter per case: ru_maxrss of RUSAGE_CHILDREN is the peak of the check process alone.
WRAPPER = r"""
import json, resource, subprocess, sys, time
started = time.monotonic()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=300)
print(json.dumps({"rc": done.returncode, "elapsed": time.monotonic() - started,
                  "peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "stdout": done.stdout, "stderr": done.stderr}))
"""


@dataclass
class Checked:
    rc: int
    elapsed: float
    peak_kib: int
    stdout: str
    stderr: str
    orphans: list[str] = field(default_factory=list)

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def session_members(session: int) -> list[str]:
    """Processes still alive in a session (what a check would leave behind: git, its helpers)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session:  # state ppid pgrp session ...
            found.append(stat_file.parent.name)
    return found


def run_check(fabric: Fabric, env: dict[str, str]) -> Checked:
    """The check in a wrapper of its own session, so anything it leaves running can be found."""
    assert CONSOLE_SCRIPT.exists(), f"console script not installed at {CONSOLE_SCRIPT}"
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("HEDGEHOG_SYNC_") and k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    wrapper = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, str(CONSOLE_SCRIPT), "check", "--inventory", str(fabric.inventory),
         "--fabric", FABRIC, "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**base, "HEDGEHOG_SYNC_GIT_SCRATCH": str(fabric.state), **env}, cwd=fabric.root,
        start_new_session=True)
    try:
        out, err = wrapper.communicate(timeout=360)
    finally:
        wrapper.kill()
    left = session_members(wrapper.pid)
    assert wrapper.returncode == 0, err
    return Checked(**json.loads(out), orphans=left)


@pytest.fixture
def hostile(tmp_path: Path):
    servers: list[HostileServer] = []

    def start(handler: Handler) -> tuple[HostileServer, Fabric]:
        server = HostileServer(handler)
        servers.append(server)
        return server, make_fabric(tmp_path, server.url)

    yield start
    for server in servers:
        server.stop()


REQUEST_DEADLINE_ENV = BUDGETS["request_deadline_seconds"].env
FABRIC_DEADLINE_ENV = BUDGETS["fabric_deadline_seconds"].env

# name: (server, env for the check, budget named, env var named, the deadline the check must end within)
CASES: dict[str, tuple[Handler, dict[str, str], str, str, float]] = {
    # Byte budgets at their defaults: a real fabric's defaults must already hold a hostile server.
    "endless chunked body": (endless_chunked, {REQUEST_DEADLINE_ENV: "60"},
                             "kubernetes.max_response_bytes", BUDGETS["max_response_bytes"].env, 60),
    "unrequested gzip bomb": (gzip_bomb, {REQUEST_DEADLINE_ENV: "60"},
                              "kubernetes.content_encoding", "Accept-Encoding: identity", 60),
    "continue-token loop": (continue_loop, {REQUEST_DEADLINE_ENV: "60"},
                            "kubernetes.repeated_continue_token", "paging loop", 60),
    "slow loris body, 1 byte/s": (slow_body, {REQUEST_DEADLINE_ENV: "3"},
                                  "kubernetes.request_deadline_seconds", REQUEST_DEADLINE_ENV, 3),
    "slow loris headers, 1 byte/s": (slow_headers, {REQUEST_DEADLINE_ENV: "3"},
                                     "kubernetes.request_deadline_seconds", REQUEST_DEADLINE_ENV, 3),
    "endless fresh pages, slowly": (fresh_pages(0.3), {REQUEST_DEADLINE_ENV: "5", FABRIC_DEADLINE_ENV: "3"},
                                    "kubernetes.fabric_deadline_seconds", FABRIC_DEADLINE_ENV, 3),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_api_server_ends_check_with_exit_2_within_budget_and_memory(hostile, case):
    handler, env, budget, names, deadline = CASES[case]
    server, fabric = hostile(handler)
    done = run_check(fabric, env)
    assert done.rc == 2, (done.stdout, done.stderr)
    assert done.elapsed < deadline + MARGIN_S, done.elapsed
    assert done.peak_kib < PEAK_RSS_LIMIT_KIB, f"peak RSS {done.peak_kib} KiB"
    assert done.orphans == [], f"processes left running: {done.orphans}"
    report = done.report
    assert report["status"] == "unknown"
    (error,) = [e for e in report["errors"] if e.get("source") == "cluster"] or report["errors"]
    assert budget in error["message"] and names in error["message"], error
    assert server.requests and server.requests[0].headers.get("accept-encoding") == "identity"
    assert_no_leak(fabric.token, texts=[done.stdout, done.stderr], paths=[fabric.state])


# --- the same budgets in-process, with budgets given as parameters --------------------------------
def _client(server: HostileServer, tmp_path: Path):
    path = write_kubeconfig(tmp_path / "k.kubeconfig", server.url, f"in-process-{secrets.token_hex(12)}", FABRIC)
    return api_client_for(str(path), FABRIC)


def test_pages_per_kind_and_objects_per_fabric_are_budgets(tmp_path):
    server = HostileServer(fresh_pages())
    try:
        with _client(server, tmp_path) as client:
            with pytest.raises(BudgetExceededError, match="max_pages_per_kind = 4 pages") as pages:
                read_live(client, kinds=[VPC], budgets=ReadBudgets(max_pages_per_kind=4))
            assert pages.value.budget == "kubernetes.max_pages_per_kind"
            assert BUDGETS["max_pages_per_kind"].env in str(pages.value) and server.url in str(pages.value)
            with pytest.raises(BudgetExceededError, match="max_objects = 10 objects"):
                read_live(client, kinds=[VPC], budgets=ReadBudgets(max_objects=10))
            with pytest.raises(BudgetExceededError, match="max_fabric_bytes"):
                read_live(client, kinds=[VPC], budgets=ReadBudgets(max_fabric_bytes=2000))
    finally:
        server.stop()


def test_a_body_longer_than_announced_or_over_budget_is_refused(tmp_path):
    def big(request, conn, stopped):
        json_answer(conn, {"items": [{"metadata": {"name": f"v{i}"}} for i in range(2000)]})
    server = HostileServer(big)
    try:
        with _client(server, tmp_path) as client:
            with pytest.raises(BudgetExceededError, match="announced more than 1000 bytes"):
                read_live(client, kinds=[VPC], budgets=ReadBudgets(max_response_bytes=1000))
            assert len(read_live(client, kinds=[VPC]).objects) == 2000
    finally:
        server.stop()


def test_the_request_deadline_holds_against_one_byte_a_second(tmp_path):
    server = HostileServer(slow_body)
    try:
        with _client(server, tmp_path) as client:
            started = time.monotonic()
            with pytest.raises(ClusterTimeoutError, match="request_deadline_seconds = 1.5 s") as caught:
                read_live(client, kinds=[VPC], timeout_seconds=1.5)
            assert time.monotonic() - started < 1.5 + MARGIN_S  # ended by the deadline, not the server
            assert caught.value.transient and caught.value.budget == "kubernetes.request_deadline_seconds"
    finally:
        server.stop()


def silent(request: Request, conn: socket.socket, stopped: threading.Event) -> None:
    stopped.wait(60)  # reads the request, never answers


@pytest.mark.parametrize("ender", ["watch-disabled", "watch-and-socket"])
@pytest.mark.parametrize("nearer, budgets", [
    ("kubernetes.request_deadline_seconds", ReadBudgets(request_deadline_seconds=1.0, fabric_deadline_seconds=30)),
    ("kubernetes.fabric_deadline_seconds", ReadBudgets(request_deadline_seconds=30, fabric_deadline_seconds=1.0)),
])
def test_a_deadline_names_its_budget_whichever_timer_ends_the_request(tmp_path, monkeypatch, ender, nearer, budgets):
    """Two timers end a request at its deadline: the watch's, and the socket timeout set to what is left
    of it. Under load either fires first; the error must name the nearer budget and its env var in both
    cases (a socket timeout once said only "timed out after 3s"). With the watch disabled, only the
    socket's timeout can end the request."""
    from hedgehog_sync.connectors import kubernetes

    if ender == "watch-disabled":
        monkeypatch.setattr(kubernetes._Watch, "_fire", lambda self: None)
    server = HostileServer(silent)
    try:
        with _client(server, tmp_path) as client:
            with pytest.raises(ClusterTimeoutError) as caught:
                read_live(client, kinds=[VPC], budgets=budgets)
        key = nearer.split(".", 1)[1]
        assert caught.value.budget == nearer and caught.value.transient
        assert f"{nearer} = 1 s" in str(caught.value) and BUDGETS[key].env in str(caught.value)
    finally:
        server.stop()


def test_deflate_and_unknown_encodings_are_refused_too(tmp_path):
    def deflated(request, conn, stopped):
        body = zlib.compress(json.dumps({"items": []}).encode())
        conn.sendall(head(Content_Encoding="deflate", Content_Length=len(body), Connection="close") + body)
    server = HostileServer(deflated)
    try:
        with _client(server, tmp_path) as client:
            with pytest.raises(BudgetExceededError, match="deflate"):
                read_live(client, kinds=[VPC])
    finally:
        server.stop()


def test_an_item_nested_deeper_than_the_budget_is_refused(tmp_path):
    def answer(request, conn, stopped):
        deep: Any = "leaf"
        for _ in range(100):
            deep = {"a": deep}
        json_answer(conn, {"items": [{"metadata": {"name": "ok"}, "spec": {"a": [1, {"b": 2}]}},
                                     {"metadata": {"name": "deep"}, "spec": deep}]})
    server = HostileServer(answer)
    try:
        with _client(server, tmp_path) as client:
            with pytest.raises(BudgetExceededError, match=r"item \(#2\) is nested deeper than 64 levels") as caught:
                read_live(client, kinds=[VPC])
            assert caught.value.budget == "kubernetes.max_depth" and BUDGETS["max_depth"].env in str(caught.value)
            assert len(read_live(client, kinds=[VPC], budgets=ReadBudgets(max_depth=200)).objects) == 2
    finally:
        server.stop()


@pytest.mark.parametrize("item", ["not an object", {"metadata": "a string"}, {"metadata": {"name": 7}},
                                  {"metadata": {"name": "x", "annotations": {"a": 2024}}}])
def test_a_malformed_item_fails_the_read_clearly(tmp_path, item):
    def answer(request, conn, stopped):
        json_answer(conn, {"items": [item]})
    server = HostileServer(answer)
    try:
        with _client(server, tmp_path) as client:
            with pytest.raises(Exception) as caught:
                read_live(client, kinds=[VPC])
        assert type(caught.value).__name__ == "ClusterUnreachableError"
        assert "vpcs" in str(caught.value) and "item" in str(caught.value)
    finally:
        server.stop()


# --- kubeconfig files are read under a byte budget ---------------------------------------------------
def test_a_kubeconfig_that_never_ends_is_refused_quickly(tmp_path):
    fifo = tmp_path / "fifo.kubeconfig"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.kubeconfig"
    with open(huge, "wb") as out:
        out.write(b"# " + b"x" * (2 * 1024 * 1024) + b"\n")
    for path, message in (("/dev/zero", "not a regular file"), (str(fifo), "not a regular file"),
                          (str(huge), "max_kubeconfig_bytes")):
        started = time.monotonic()
        with pytest.raises(ClusterConfigError, match=message) as caught:
            api_client_for(path, FABRIC)
        assert time.monotonic() - started < MARGIN_S  # refused without reading on
        assert path in str(caught.value)
    with pytest.raises(ClusterConfigError, match=BUDGETS["max_kubeconfig_bytes"].env):
        api_client_for(str(huge), FABRIC)


def test_a_huge_kubeconfig_through_check_is_a_clear_error(tmp_path):
    fabric = make_fabric(tmp_path, "http://127.0.0.1:9")
    fabric.kubeconfig.write_bytes(b"# " + b"x" * (2 * 1024 * 1024) + b"\n")
    done = run_check(fabric, {})
    assert done.rc == 2
    (error,) = done.report["errors"]
    assert "max_kubeconfig_bytes" in error["message"] and error["error_class"] == "ClusterConfigError"


def test_the_request_deadline_holds_against_a_tls_handshake_at_one_byte_a_second(tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    stopped = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stopped.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.recv(65536)  # the ClientHello
                    # A TLS handshake record announcing 16 KiB, then one byte a second of it.
                    conn.sendall(bytes([0x16, 0x03, 0x03, 0x40, 0x00]))
                    ends = time.monotonic() + 60
                    while not stopped.is_set() and time.monotonic() < ends:
                        conn.sendall(b"\x00")
                        stopped.wait(1.0)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    path = write_kubeconfig(tmp_path / "k.kubeconfig", f"https://127.0.0.1:{port}",
                            f"tls-token-{secrets.token_hex(12)}", FABRIC)
    config = yaml.safe_load(path.read_text())
    config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    path.write_text(yaml.safe_dump(config))
    try:
        with api_client_for(str(path), FABRIC) as client:
            started = time.monotonic()
            with pytest.raises(ClusterTimeoutError, match="request_deadline_seconds = 1.5 s"):
                read_live(client, kinds=[VPC], timeout_seconds=1.5)
            assert time.monotonic() - started < 1.5 + MARGIN_S  # ended by the deadline, not the server
    finally:
        stopped.set()
        listener.close()
        thread.join(timeout=5)
