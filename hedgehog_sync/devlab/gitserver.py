"""A loopback git server: `git http-backend` behind a small HTTP server that wants a token.

Tests and the soak benchmark use it to exercise the real smart-HTTP transport the git connector
speaks to GitHub or GitLab: credentials sent as HTTP Basic (any user, the token as password) or
as a Bearer token, 401 for a wrong one, and `GitFaults` to make the server slow, failing or
silent for chosen repositories. Repositories are bare, under `root`, served as `/<name>.git`.
Only 127.0.0.1 is ever bound.
"""

from __future__ import annotations

import base64
import hmac
import os
import random
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import git  # GitPython

from hedgehog_sync.devlab.apiserver.faults import RuleList

HOST = "127.0.0.1"


@dataclass
class GitFault:
    """A failure in front of the git requests it matches, like a broken proxy or an overloaded host."""

    path: str = ""  # regex searched in the request path, e.g. "^/fab-east.git/"; "" = any
    status: int | None = None  # answer this HTTP status instead of serving
    latency: float = 0.0  # seconds to wait before answering (longer than the client's timeout = a hang)
    drop: bool = False  # close the connection without answering
    # seconds between bytes of the answer's body (1.0 = one byte a second: a slow-loris server that
    # keeps curl's low-speed limit satisfied, so only the client's own deadline ends it)
    trickle: float = 0.0
    times: int | None = None  # apply to the first N matching requests only; None = always
    probability: float = 1.0  # apply to this fraction of the matching requests, at random
    hits: int = field(default=0, init=False)

    def matches(self, path: str) -> bool:
        return (not self.path or re.search(self.path, path) is not None) and (
            self.times is None or self.hits < self.times) and (
            self.probability >= 1.0 or random.random() < self.probability)


class GitFaults(RuleList[GitFault]):
    """The fault rules the git server consults per request (the path); the first matching rule applies."""

    rule_type = GitFault


def _authorized(header: str | None, token: str) -> bool:
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.strip().encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            _, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(password.encode(), token.encode())
    return False


def _read_chunked(rfile: Any) -> bytes:
    body = bytearray()
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(body)
        body += rfile.read(size)
        rfile.readline()


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # requests carry tokens in headers: never log them
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = _read_chunked(self.rfile)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.requests += 1
            repo = path.lstrip("/").split("/", 1)[0]
            self.server.by_repo[repo] = self.server.by_repo.get(repo, 0) + 1
        fault = self.server.faults.take(path)
        if fault is not None:
            if fault.latency:
                time.sleep(fault.latency)
            if fault.drop:
                self.close_connection = True
                return
            if fault.status is not None:
                return self._plain(fault.status, "injected fault\n")
        if self.server.token is not None and not _authorized(self.headers.get("Authorization"),
                                                             self.server.token):
            return self._plain(401, "authentication required\n", {"WWW-Authenticate": 'Basic realm="git"'})
        self._backend(path, query, body, trickle=fault.trickle if fault is not None else 0.0)

    def _plain(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        for k, v in {"Content-Type": "text/plain", "Content-Length": str(len(data)), **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _backend(self, path: str, query: str, body: bytes, trickle: float = 0.0) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": "token",
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _ and b"\n\n" in proc.stdout:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not trickle:
            self.wfile.write(payload)
            return
        self.close_connection = True
        try:
            for i in range(len(payload)):
                self.wfile.write(payload[i:i + 1])
                self.wfile.flush()
                time.sleep(trickle)
        except OSError:
            pass  # the client gave up: what a slow server is for


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    token: str | None
    faults: GitFaults
    requests: int
    by_repo: dict[str, int]
    lock: threading.Lock


@dataclass
class GitServerHandle:
    """A running loopback git server; `url(name)` is the clone URL of `<root>/<name>.git`."""

    root: Path
    port: int
    faults: GitFaults
    _server: _Server
    _thread: threading.Thread

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.port}/{name}.git"

    @property
    def requests(self) -> int:
        return self._server.requests

    def requests_to(self, name: str) -> int:
        """How many requests the repository `<name>.git` has had (any outcome)."""
        return self._server.by_repo.get(f"{name}.git", 0)

    def set_token(self, token: str | None) -> None:
        """Rotate the token the server accepts (None: no authentication)."""
        self._server.token = token

    def stop(self) -> None:
        """Stop serving (idempotent); afterwards connections to the port are refused."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> "GitServerHandle":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_gitserver(root: str | os.PathLike[str], token: str | None = None, port: int = 0) -> GitServerHandle:
    """Serve the bare repositories under `root` on 127.0.0.1 (port 0 = a free port)."""
    server = _Server((HOST, port), _Handler)
    server.root, server.token, server.faults, server.requests = Path(root).resolve(), token, GitFaults(), 0
    server.by_repo, server.lock = {}, threading.Lock()
    thread = threading.Thread(target=server.serve_forever, name=f"devlab-gitserver-{server.server_port}",
                              daemon=True)
    thread.start()
    return GitServerHandle(Path(root).resolve(), server.server_port, server.faults, server, thread)


def publish(work_repo: git.Repo | str | os.PathLike[str], root: str | os.PathLike[str], name: str) -> Path:
    """Make (or refresh) the bare repository `<root>/<name>.git` from a work repository, force-pushing
    every branch and tag, so that history the work repository rewrote is rewritten on the server too."""
    source = work_repo.working_tree_dir if isinstance(work_repo, git.Repo) else os.fspath(work_repo)
    bare = Path(root) / f"{name}.git"
    if not bare.exists():
        git.Repo.init(bare, bare=True, initial_branch="main")
    git.Repo(source).git.push("--force", "--prune", str(bare), "+refs/heads/*:refs/heads/*",
                              "+refs/tags/*:refs/tags/*")
    return bare
