"""Read a fabric's desired state from Git: a cached bare clone per fabric, fetched, read at a commit.

Every git command runs in its own process group under a deadline that ends the whole group, so a
stalled server cannot leave a `git-remote-http` or `ssh` behind holding a pipe. What is read is
bounded before it is read (sizes come from `git ls-tree -l`): the budgets below, per fabric.

| budget (env HEDGEHOG_SYNC_GIT_<NAME>) | default | what it bounds |
|---|---|---|
| TIMEOUT_SECONDS | 120 | the whole read of one fabric (lock, fetch, listing, blobs), or one ls-remote |
| MAX_BYTES | 64 MiB | bytes of the distinct blobs read under the fabric's path |
| MAX_FILES | 10,000 | candidate files (YAML, symlinks included) under the path; the listing itself stops at 10x |
| MAX_DOCUMENTS | 100,000 | YAML documents across the fabric (each file counted at every path it is listed at) |
| MAX_FETCH_BYTES | 1 GiB | the pack one fetch writes (a file-size limit on the fetch, through `prlimit`) |

Each distinct blob is read once per snapshot, whatever the number of paths that list it.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import threading
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator
from urllib.parse import urlsplit

from hedgehog_sync.domain.errors import (
    BudgetExceededError, GitAuthError, GitRefError, GitTimeoutError, GitUnreachableError, GitUrlRefused,
)
from hedgehog_sync.domain.inventory import PARTITION_KEY, GitSettings, token_env_problem, token_transport_problem
from hedgehog_sync.domain.model import Finding
from hedgehog_sync.domain.parsing import DEFAULT_LIMITS, is_candidate_file
from hedgehog_sync.domain.redaction import redact, register_secret, safe_url

FETCH_TIMEOUT_SECONDS = 120
# Operators (and the fault tests) may shorten the limit without code.
TIMEOUT_ENV = "HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS"
BUDGET_ENV_PREFIX = "HEDGEHOG_SYNC_GIT_"
# An operator's known_hosts for ssh remotes (a mounted file in Kubernetes); default ssh's own.
KNOWN_HOSTS_ENV = "HEDGEHOG_SYNC_GIT_SSH_KNOWN_HOSTS"
# After a group is killed, its pipes close at once; this only bounds a process that escaped the group.
_KILL_MARGIN_SECONDS = 2.0
_MAX_STDERR_BYTES = 64 * 1024
_MAX_SMALL_OUTPUT = 4 * 1024 * 1024  # rev-parse, ls-remote, show: anything larger is hostile

# What git and curl print for a refused credential. Matched as phrases, never as bare numbers:
# "401" alone also matches a port (127.0.0.1:40137) or a commit SHA in the same text.
_AUTH_FAILURE = re.compile(
    r"authentication failed|could not read (username|password)|permission denied \(|"
    r"host key verification failed|terminal prompts disabled|returned error: 40[13]\b|"
    r"\bhttp 40[13]\b", re.IGNORECASE)
# What ssh (and curl) say when they fail, and what that means for the operator. First match wins.
_SSH_FAILURES: tuple[tuple[re.Pattern[str], str, type[Exception]], ...] = (
    (re.compile(r"host key verification failed|no \S+ host key is known|remote host identification has changed",
                re.I), "the server's ssh host key is not known or has changed: add it to known_hosts "
                       f"(${KNOWN_HOSTS_ENV} names the file)", GitAuthError),
    (re.compile(r"permission denied \(|too many authentication failures|no more authentication methods", re.I),
     "ssh authentication was refused: check the deploy key", GitAuthError),
    (re.compile(r"could not resolve hostname|could not resolve host|name or service not known|"
                r"temporary failure in name resolution|nodename nor servname", re.I),
     "the host name could not be resolved", GitUnreachableError),
    (re.compile(r"connection refused|failed to connect", re.I), "the connection was refused", GitUnreachableError),
    (re.compile(r"no route to host|network is unreachable", re.I), "the host is not reachable", GitUnreachableError),
    (re.compile(r"connection timed out", re.I), "the connection timed out", GitTimeoutError),
    (re.compile(r"connection (reset|closed) by|kex_exchange_identification|broken pipe", re.I),
     "the server closed the connection", GitUnreachableError),
)
# git's boilerplate after an ssh failure: true of every failure, so it says nothing.
_BOILERPLATE = re.compile(r"could not read from remote repository|please make sure you have the correct access|"
                          r"^and the repository exists", re.IGNORECASE)
# What git prints when the local cache, not the remote, is broken.
_CORRUPTION = re.compile(
    r"not a git repository|bad object|corrupt|unable to read|loose object|did not send all necessary|"
    r"bad config|invalid object|missing blob|failed to read object|is empty|packfile .* cannot be accessed|"
    r"unable to open object pack|index-pack failed|invalid gitfile|bad numeric config", re.IGNORECASE)
_TIMED_OUT = re.compile(r"operation too slow|operation timed out|curl 28\b", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-f]{7,40}$")
_PRLIMIT = shutil.which("prlimit")  # util-linux; without it the fetch budget is the deadline alone
_ORIGIN_FILE = "hedgehog-sync-origin"  # digest of the URL: the URL itself is never written to the cache
# A document after the first starts with a `---` line (libyaml wants it): an upper bound on documents.
_DOCUMENT_START = re.compile(rb"^---(?=[ \t\r\n]|\Z)", re.MULTILINE)
_OTHER_BREAKS = (b"\r", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")


@dataclass(frozen=True)
class GitBudgets:
    """What one fabric's Git read may cost; see the module table."""

    max_bytes: int = 64 * 1024 * 1024
    max_files: int = 10_000
    max_documents: int = 100_000
    max_fetch_bytes: int = 1024 * 1024 * 1024

    @classmethod
    def from_env(cls) -> "GitBudgets":
        values = {}
        for name in ("max_bytes", "max_files", "max_documents", "max_fetch_bytes"):
            default = getattr(cls, name)
            raw = os.environ.get(BUDGET_ENV_PREFIX + name.upper())
            try:
                value = int(raw) if raw else default
            except ValueError:
                value = default
            values[name] = value if value > 0 else default
        return cls(**values)


@dataclass
class GitFile:
    path: str  # relative to the fabric's folder in the repository
    blob: str  # the blob's SHA: same SHA, same bytes, same parse
    data: bytes  # one bytes object per distinct blob, shared by every path that lists it


@dataclass
class GitSnapshot:
    commit: str
    message: str
    author: str
    files: list[GitFile] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def check_url(settings: GitSettings) -> None:
    """Refuse URLs that would make git run commands, read local files without consent or show a secret."""
    url = settings.url
    if url.startswith("-") or "::" in url.split("/", 1)[0]:
        raise GitUrlRefused("git URL refused: transport helpers (ext::, fd::) and leading '-' are not allowed")
    if re.match(r"^[a-z][a-z0-9+.-]*://([^/@]*@)?\[?-", url, re.IGNORECASE) or re.match(r"^[^/:]*@?-[^/]*:", url):
        raise GitUrlRefused("git URL refused: a host or user starting with '-' would be read as an ssh option")
    if re.match(r"^https?://[^/@]*@", url, re.IGNORECASE):
        raise GitUrlRefused("git URL refused: credentials in the URL; name an env var in token_env instead")
    if re.match(r"^[a-z][a-z0-9+.-]*://[^?#]*[?#]", url, re.IGNORECASE):
        raise GitUrlRefused("git URL refused: a query string or fragment (it may carry credentials); "
                            "name an env var in token_env instead")
    if settings.is_local() and not settings.allow_local:
        raise GitUrlRefused("git URL refused: local paths need allow_local: true")


def _check_token_policy(fabric: str, settings: GitSettings) -> None:
    """The inventory refuses these already; checked again here for settings built any other way."""
    problem = token_env_problem(settings.token_env) if settings.token_env else None
    problem = problem or token_transport_problem(settings)
    if problem:
        raise GitUrlRefused(f"fabric {fabric}: {problem}")


def _allowed_protocols(settings: GitSettings, token: str | None) -> str:
    if token:
        # A redirect must not carry the token to another scheme (https -> http).
        return urlsplit(settings.url).scheme.lower() or "https"
    return "https:http:ssh:git" + (":file" if settings.allow_local else "")


# --- child processes -----------------------------------------------------------------------------------

@dataclass
class _Result:
    returncode: int
    stdout: bytes
    stderr: str
    timed_out: bool
    too_much_output: bool


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_exit(pid: int, deadline: float) -> bool:
    """Wait until the process exits, without reaping it (its pid, the group's id, stays reserved
    until we kill the rest of the group). False when the deadline came first."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    try:
        while True:
            try:
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
            except ChildProcessError:
                return True
            if info is not None and info.si_pid:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if fd is not None:
                select.select([fd], [], [], remaining)
            else:  # pragma: no cover - kernels without pidfd
                time.sleep(min(0.02, remaining))
    finally:
        if fd is not None:
            os.close(fd)


class _GitProcess:
    """One git command in its own session; `close()` ends its whole process group."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path | None, deadline: float,
                 stdin: bool = False, max_file_bytes: int | None = None):
        self.deadline = deadline
        self.timed_out = False
        self._reaped = False
        self._lock = threading.Lock()  # no signal to the group once its leader is reaped (its id may be reused)
        argv = ["git", *args]
        if max_file_bytes and _PRLIMIT:
            # No file git writes (the fetched pack) may grow past the budget: the kernel stops it.
            argv = [_PRLIMIT, f"--fsize={max_file_bytes}", "--", *argv]
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self._stderr = bytearray()
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()
        # The watchdog: at the deadline the group dies, so every blocking read returns.
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if not self._reaped:
                self.timed_out = True
                _kill_group(self.proc.pid)

    def kill(self) -> None:
        with self._lock:
            if not self._reaped:
                _kill_group(self.proc.pid)

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):  # type: ignore[union-attr]
            room = _MAX_STDERR_BYTES - len(self._stderr)
            if room > 0:
                self._stderr += chunk[:room]

    def close(self) -> int:
        """Wait for the leader (until the deadline), end the group, reap, and return the exit status."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        if not _wait_exit(self.proc.pid, self.deadline):
            self._expire()
        self._timer.cancel()
        self.kill()  # helpers still alive once git is gone are stragglers
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
        with self._lock:
            self._reaped = True
            try:
                code = self.proc.wait(timeout=_KILL_MARGIN_SECONDS)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
                code = -9
        self._stderr_thread.join(timeout=_KILL_MARGIN_SECONDS)
        return code

    @property
    def stderr(self) -> str:
        return bytes(self._stderr).decode("utf-8", "replace")


def _run(args: list[str], env: dict[str, str], cwd: Path | None, deadline: float,
         max_output: int = _MAX_SMALL_OUTPUT, max_file_bytes: int | None = None) -> _Result:
    """Run git to its end or its deadline; stdout is kept up to `max_output` bytes (more ends it)."""
    process = _GitProcess(args, env, cwd, deadline, max_file_bytes=max_file_bytes)
    out = bytearray()
    too_much = False
    assert process.proc.stdout is not None
    try:
        for chunk in iter(lambda: process.proc.stdout.read1(65536), b""):  # type: ignore[union-attr]
            out += chunk
            if len(out) > max_output:
                too_much = True
                process.kill()
                break
    finally:
        code = process.close()
    return _Result(code, bytes(out), process.stderr, process.timed_out, too_much)


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    parts = []
    while size > 0:
        chunk = stream.read(min(size, 1 << 20))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


class GitRepoCache:
    """One bare repository per fabric under `root`; clone once, then fetch."""

    def __init__(self, root: str | os.PathLike[str], timeout_seconds: float | None = None,
                 budgets: GitBudgets | None = None):
        self.root = Path(root)
        self.timeout_seconds = timeout_seconds if timeout_seconds is not None else _timeout_from_env()
        self.budgets = budgets if budgets is not None else GitBudgets.from_env()

    def repo_dir(self, fabric: str) -> Path:
        if not PARTITION_KEY.match(fabric):  # validated before any path is built from it
            raise ValueError(f"invalid fabric name {fabric!r}")
        return self.root / fabric / "repo.git"

    def _env(self, settings: GitSettings, git_dir: Path | None) -> dict[str, str]:
        token = register_secret(os.environ.get(settings.token_env)) if settings.token_env else None
        ssh = "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes"
        known_hosts = os.environ.get(KNOWN_HOSTS_ENV)
        if known_hosts and '"' not in known_hosts:
            # double quotes for ssh (which splits the value on blanks), shell quotes for the shell git uses
            ssh += " -o " + shlex.quote(f'UserKnownHostsFile="{known_hosts}"')
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "LANG": "C", "LC_ALL": "C",  # error texts are matched in English
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "true",
            "SSH_ASKPASS": "true",
            "GIT_ALLOW_PROTOCOL": _allowed_protocols(settings, token),
            "GIT_SSH_COMMAND": ssh,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_LITERAL_PATHSPECS": "1",  # a fabric path is a path, never a glob
            # curl gives up on a stalled server by itself too; the deadline is the backstop.
            "GIT_HTTP_LOW_SPEED_LIMIT": "1",
            "GIT_HTTP_LOW_SPEED_TIME": str(max(1, int(self.timeout_seconds))),
        }
        for name in ("SSH_AUTH_SOCK", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy",
                     "NO_PROXY", "GIT_SSL_CAINFO", "SSL_CERT_FILE", "SSL_CERT_DIR"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        if git_dir is not None:
            env["GIT_DIR"] = str(git_dir)
        else:  # ls-remote outside any repository: never pick up the config of a folder above the cache
            env["GIT_CEILING_DIRECTORIES"] = str(self.root.resolve().parent)
        if token:
            # The token rides in an env-provided header: never in the URL, argv, or the cache's config.
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"})
        return env

    @contextmanager
    def _locked(self, fabric: str, deadline: float, settings: GitSettings) -> Iterator[Path]:
        d = self.repo_dir(fabric)
        d.parent.mkdir(parents=True, exist_ok=True)
        with open(d.parent / "lock", "w") as lock:
            # Two runs on one fabric must not fetch at once; waiting for the other is bounded too.
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise GitTimeoutError(f"fabric {fabric}: the git cache of {safe_url(settings.url)} stayed "
                                              f"locked by another read for {self.timeout_seconds:g} s") from None
                    time.sleep(0.05)
            try:
                yield d
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _prepare(self, d: Path, settings: GitSettings, env: dict[str, str], deadline: float) -> None:
        """A bare repository for this URL at `d`: reused if sound, else made again."""
        digest = hashlib.sha256(settings.url.encode()).hexdigest()
        marker = d / _ORIGIN_FILE
        try:
            if marker.read_text() == digest:
                check = _run(["rev-parse", "--git-dir"], env, d, deadline)
                if check.returncode == 0:
                    return
                if check.timed_out:
                    raise self._timeout("reading the cache of", settings)
        except (OSError, UnicodeDecodeError):
            pass
        # Missing, corrupted or pointing elsewhere: start again, the remote is the source of truth.
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True, exist_ok=True)
        init = _run(["init", "--bare", "--quiet"], env, d, deadline)
        if init.timed_out:
            raise self._timeout("preparing the cache of", settings)
        if init.returncode != 0:
            raise GitUnreachableError(f"could not create the git cache for {safe_url(settings.url)}: "
                                      f"{_summary(init.stderr, init.returncode)}")
        marker.write_text(digest)

    def read(self, fabric: str, settings: GitSettings) -> GitSnapshot:
        """Fetch, resolve `ref` to a commit and read every candidate file under `path` at it."""
        deadline = time.monotonic() + self.timeout_seconds
        check_url(settings)
        _check_token_policy(fabric, settings)
        with self._locked(fabric, deadline, settings) as d:
            env = self._env(settings, d)
            for attempt in (1, 2):
                try:
                    self._prepare(d, settings, env, deadline)
                    return self._read_cached(fabric, d, settings, env, deadline)
                except _CacheCorrupted as exc:
                    # A damaged cache (a cut pack, a lost object, a disk error) is not the remote's
                    # fault: throw it away and clone again, once.
                    shutil.rmtree(d, ignore_errors=True)
                    if attempt == 2:
                        raise GitUnreachableError(f"git cache of {safe_url(settings.url)} is unusable even "
                                                  f"after a fresh clone: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _timeout(self, what: str, settings: GitSettings) -> GitTimeoutError:
        return GitTimeoutError(f"{what} {safe_url(settings.url)} took longer than {self.timeout_seconds:g} s "
                               f"(HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS); git and its helpers were stopped")

    def _git(self, args: list[str], env: dict[str, str], d: Path, deadline: float, settings: GitSettings,
             what: str, max_output: int = _MAX_SMALL_OUTPUT, max_file_bytes: int | None = None) -> _Result:
        result = _run(args, env, d, deadline, max_output, max_file_bytes)
        if result.timed_out:
            raise self._timeout(what, settings)
        return result

    def _read_cached(self, fabric: str, d: Path, settings: GitSettings, env: dict[str, str],
                     deadline: float) -> GitSnapshot:
        self._fetch(fabric, d, env, settings, deadline)
        commit = self._resolve(d, env, settings, deadline)
        return self._snapshot(fabric, d, env, settings, commit, deadline)

    def remote_commit(self, fabric: str, settings: GitSettings) -> str:
        """The commit `ref` points to on the remote now, without fetching (`git ls-remote`)."""
        deadline = time.monotonic() + self.timeout_seconds
        check_url(settings)
        _check_token_policy(fabric, settings)
        if _HEX.match(settings.ref) and len(settings.ref) == 40:
            return settings.ref  # a pinned commit never moves
        self.repo_dir(fabric)  # validates the name
        self.root.mkdir(parents=True, exist_ok=True)
        ref = settings.ref
        result = _run(["ls-remote", "--end-of-options", settings.url, f"refs/heads/{ref}", f"refs/tags/{ref}",
                       f"refs/tags/{ref}^{{}}"], self._env(settings, None), self.root, deadline)
        if result.timed_out:
            raise self._timeout("asking where the ref points on", settings)
        if result.too_much_output:
            raise GitUnreachableError(f"git ls-remote of {safe_url(settings.url)} answered more than "
                                      f"{_MAX_SMALL_OUTPUT} bytes; refusing it")
        if result.returncode != 0:
            raise self._classify(result, settings, "ls-remote")
        out = result.stdout.decode("utf-8", "replace")
        refs = dict(reversed(line.split("\t", 1)) for line in out.splitlines() if "\t" in line)
        for name in (f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}"):
            if name in refs:
                return refs[name]
        raise GitRefError(f"ref '{ref}' is not a branch or tag of the repository; fix git.ref in the inventory")

    def _fetch(self, fabric: str, d: Path, env: dict[str, str], settings: GitSettings, deadline: float) -> None:
        # No URL is written to the cache: it is given on the command line, and FETCH_HEAD (which
        # would record it) is not written. What is fetched always lands in one pack (unpackLimit=1),
        # the one file the fetch budget bounds.
        limit = self.budgets.max_fetch_bytes
        base = ["-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "core.logAllRefUpdates=false",
                "-c", "fetch.unpackLimit=1", "fetch", "--quiet", "--no-write-fetch-head"]
        result = self._git([*base, "--prune", "--force", "--no-tags", "--end-of-options", settings.url,
                            "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
                           env, d, deadline, settings, "fetching from", max_file_bytes=limit)
        if result.returncode != 0:
            self._check_fetch_budget(fabric, d, settings)
            if _CORRUPTION.search(result.stderr) and not _AUTH_FAILURE.search(result.stderr):
                raise _CacheCorrupted(_summary(result.stderr, result.returncode))
            raise self._classify(result, settings, "fetch")
        ref = settings.ref
        if _HEX.match(ref) and not self._has_commit(d, env, ref, deadline):
            # a pinned commit that no branch or tag reaches; resolve() reports a missing one clearly
            self._git([*base, "--end-of-options", settings.url, ref], env, d, deadline, settings, "fetching from",
                      max_file_bytes=limit)
            self._check_fetch_budget(fabric, d, settings)
        # Fetches every minute add a pack each: compact them now and then, in the foreground, under
        # the same deadline (a detached `gc --auto` would escape the process group).
        self._git(["-c", "gc.autoDetach=false", "gc", "--auto", "--quiet"], env, d, deadline, settings,
                  "compacting the cache of")

    def _check_fetch_budget(self, fabric: str, d: Path, settings: GitSettings) -> None:
        limit = self.budgets.max_fetch_bytes
        cut = False
        for p in (d / "objects" / "pack").glob("tmp_pack_*"):
            try:
                cut = cut or p.stat().st_size >= limit
                p.unlink()  # a cut pack is of no use
            except OSError:
                pass
        if cut:
            raise _budget(f"fabric {fabric}: {safe_url(settings.url)}", "max_fetch_bytes", limit,
                          "bytes fetched", f"more than {limit}", fix="move old history out of the repository")

    def _classify(self, result: _Result, settings: GitSettings, op: str) -> Exception:
        stderr = redact(result.stderr)
        url = safe_url(settings.url)
        detail = _summary(stderr, result.returncode)
        low = stderr.lower()
        for pattern, meaning, cls in _SSH_FAILURES:
            if pattern.search(stderr):
                return cls(f"git {op} from {url} failed: {meaning} ({detail})")
        if _TIMED_OUT.search(stderr) or "timed out" in low and "connection" not in low:
            return GitTimeoutError(f"git {op} from {url} timed out: {detail}")
        if _AUTH_FAILURE.search(stderr):
            hint = ""
            if settings.token_env and not (os.environ.get(settings.token_env) or "").strip():
                hint = f"; git.token_env {settings.token_env} is not set"
            return GitAuthError(f"git {op} from {url} was refused (credentials){hint}: {detail}")
        if any(s in low for s in ("not found", "does not appear to be a git repository",
                                  "repository not found")):
            return GitRefError(f"git repository {url} not found: {detail}")
        if "transport" in low and "not allowed" in low:
            return GitUrlRefused(f"git URL {url} refused: {detail}")
        return GitUnreachableError(f"git {op} from {url} failed: {detail}")

    def _has_commit(self, d: Path, env: dict[str, str], sha: str, deadline: float) -> bool:
        return _run(["cat-file", "-e", f"{sha}^{{commit}}"], env, d, deadline).returncode == 0

    def _resolve(self, d: Path, env: dict[str, str], settings: GitSettings, deadline: float) -> str:
        ref = settings.ref
        candidates = [f"refs/remotes/origin/{ref}", f"refs/tags/{ref}"]
        if _HEX.match(ref):
            candidates.append(ref)
        for candidate in candidates:
            result = self._git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{candidate}^{{commit}}"],
                               env, d, deadline, settings, "reading the cache of")
            if result.returncode == 0:
                return result.stdout.decode().strip()
        raise GitRefError(f"ref '{ref}' is not a branch, tag or commit of the repository; "
                          "fix git.ref in the inventory")

    def _snapshot(self, fabric: str, d: Path, env: dict[str, str], settings: GitSettings, commit: str,
                  deadline: float) -> GitSnapshot:
        what = "reading the cache of"
        show = self._git(["show", "-s", "--format=%an%x00%s", commit], env, d, deadline, settings, what)
        if show.returncode != 0:
            raise _CacheCorrupted(_summary(show.stderr, show.returncode))
        author, _, message = show.stdout.decode("utf-8", "replace").strip("\n").partition("\0")
        snap = GitSnapshot(commit=commit, message=message, author=author)
        path = settings.path
        budgets = self.budgets
        where = f"fabric {fabric}: {safe_url(settings.url)} at {commit[:12]}" + (f" under '{path}'" if path else "")
        args = ["ls-tree", "-r", "-z", "-l", "--full-tree", commit] + (["--", path] if path else [])
        wanted: list[tuple[str, str]] = []  # (relative path, blob) to read
        sizes: dict[str, int] = {}
        prefix = f"{path}/" if path else ""
        listed = candidates = 0
        # Streamed and bounded as it comes: the listing stops at 10x the files budget, entries of any kind.
        with closing(self._listing(args, env, d, deadline, settings)) as listing:
            for entry in listing:
                listed += 1
                if listed > budgets.max_files * 10:
                    raise _budget(where, "max_files", budgets.max_files, "files listed (of any kind)",
                                  f"more than {budgets.max_files * 10}")
                meta, _, raw_path = entry.partition(b"\t")
                try:
                    mode, kind, blob, size = meta.decode("ascii").split()
                except ValueError:
                    raise _CacheCorrupted("unreadable ls-tree output") from None
                full_path = raw_path.decode("utf-8", "backslashreplace")
                rel = full_path[len(prefix):] if prefix and full_path.startswith(prefix) else full_path
                if not is_candidate_file(rel):
                    continue
                candidates += 1
                if candidates > budgets.max_files:
                    raise _budget(where, "max_files", budgets.max_files, "candidate YAML files",
                                  f"more than {budgets.max_files}")
                if mode == "120000":
                    snap.findings.append(Finding(rel, "symbolic link ignored: desired state must be real files",
                                                 level="warning"))
                    continue
                if kind != "blob":
                    continue
                if not size.isdigit() or int(size) > DEFAULT_LIMITS.max_file_bytes:
                    snap.findings.append(Finding(rel, f"file is {size} bytes, over the limit of "
                                                      f"{DEFAULT_LIMITS.max_file_bytes}; split it"))
                    continue
                sizes[blob] = int(size)
                wanted.append((rel, blob))
        if path and not listed:
            raise GitRefError(f"git.path '{path}' does not exist (or holds no file) at commit {commit[:12]} of "
                              f"{safe_url(settings.url)}; fix git.path in the inventory (paths are case-sensitive)")
        total = sum(sizes.values())
        if total > budgets.max_bytes:
            raise _budget(where, "max_bytes", budgets.max_bytes, "bytes of YAML", str(total))
        paths_per_blob: dict[str, int] = {}
        for _, blob in wanted:
            paths_per_blob[blob] = paths_per_blob.get(blob, 0) + 1
        data = self._read_blobs(d, env, settings, list(sizes), sizes, deadline)
        documents = 0
        for blob in sizes:  # checked blob by blob, before anything is parsed
            # A parse stops past the per-file limit (a finding on that file): it never costs more.
            per_file = min(_max_documents(data[blob]), DEFAULT_LIMITS.max_documents_per_file + 1)
            documents += per_file * paths_per_blob[blob]
            if documents > budgets.max_documents:
                raise _budget(where, "max_documents", budgets.max_documents, "YAML documents",
                              f"more than {budgets.max_documents}")
        snap.files = [GitFile(rel, blob, data[blob]) for rel, blob in wanted]
        return snap

    def _listing(self, args: list[str], env: dict[str, str], d: Path, deadline: float,
                 settings: GitSettings) -> Iterator[bytes]:
        """The NUL-separated entries git prints, as they come; leaving early ends git."""
        process = _GitProcess(args, env, d, deadline)
        stdout = process.proc.stdout
        assert stdout is not None
        pending = b""
        complete = False
        try:
            for chunk in iter(lambda: stdout.read1(65536), b""):
                pending += chunk
                *entries, pending = pending.split(b"\0")
                if len(pending) > 1 << 20:
                    raise _CacheCorrupted("unreadable ls-tree output")
                yield from entries
            complete = True
        finally:
            code = process.close()
        if process.timed_out:
            raise self._timeout("reading the cache of", settings)
        if complete and (code != 0 or pending):
            raise _CacheCorrupted(_summary(process.stderr, code))

    def _read_blobs(self, d: Path, env: dict[str, str], settings: GitSettings, blobs: list[str],
                    sizes: dict[str, int], deadline: float) -> dict[str, bytes]:
        """Each distinct blob, once, through one `git cat-file --batch`."""
        out: dict[str, bytes] = {}
        if not blobs:
            return out
        process = _GitProcess(["cat-file", "--batch"], env, d, deadline, stdin=True)
        stdin, stdout = process.proc.stdin, process.proc.stdout
        assert stdin is not None and stdout is not None

        def feed() -> None:
            try:
                for blob in blobs:
                    stdin.write(f"{blob}\n".encode())
                stdin.close()
            except (OSError, ValueError):
                pass  # the process is gone: the reader says why

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        try:
            for blob in blobs:
                header = stdout.readline(256).decode("ascii", "replace").split()
                if len(header) != 3 or header[0] != blob or header[1] != "blob" or int(header[2]) != sizes[blob]:
                    raise EOFError
                out[blob] = _read_exactly(stdout, sizes[blob])
                if stdout.read(1) != b"\n":
                    raise EOFError
        except (EOFError, ValueError):
            process.close()
            if process.timed_out:
                raise self._timeout("reading the cache of", settings) from None
            raise _CacheCorrupted(f"could not read a blob: {_summary(process.stderr, -1)}") from None
        finally:
            process.close()
            writer.join(timeout=_KILL_MARGIN_SECONDS)
        return out


def _budget(where: str, name: str, value: int, what: str, found: str,
            fix: str = "split the fabric's files") -> BudgetExceededError:
    env = BUDGET_ENV_PREFIX + name.upper()
    return BudgetExceededError(f"{where}: {found} {what}, over the budget git.{name} = {value}; "
                               f"{fix} or raise the budget with {env}", budget=f"git.{name}")


def _max_documents(data: bytes) -> int:
    """An upper bound on the YAML documents in `data`, without parsing it."""
    for other in _OTHER_BREAKS:
        if other in data:
            data = data.replace(other, b"\n")
    return 1 + len(_DOCUMENT_START.findall(data))


class _CacheCorrupted(Exception):
    """The local cache of a repository is damaged; cloning again repairs it."""


def _summary(stderr: str, code: int) -> str:
    """What git said, as a whole: its meaningful lines (not the boilerplate), redacted and short."""
    lines = [line.strip().removeprefix("stderr: ").strip(" '") for line in redact(stderr).splitlines()]
    lines = [line for line in lines if line and not _BOILERPLATE.search(line)]
    if not lines:
        return f"exit {code}"
    text = "; ".join(line[:300] for line in lines[:4])
    return text + (f" (+{len(lines) - 4} more lines)" if len(lines) > 4 else "")


def _timeout_from_env() -> float:
    value = os.environ.get(TIMEOUT_ENV)
    try:
        seconds = float(value) if value else FETCH_TIMEOUT_SECONDS
    except ValueError:
        seconds = FETCH_TIMEOUT_SECONDS
    return seconds if seconds > 0 else FETCH_TIMEOUT_SECONDS
