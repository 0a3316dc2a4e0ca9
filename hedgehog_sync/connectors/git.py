"""Read a fabric's desired state from Git: a scratch bare clone per fabric, fetched, read at a commit.

The clones are scratch, never state: by default they live in a private directory of this process
(`tempfile.mkdtemp` under $HEDGEHOG_SYNC_GIT_SCRATCH, else the system temp dir; in Kubernetes an
emptyDir mounted there), removed when the interpreter exits. Any start may find it empty: what is
needed to skip unchanged work (the last commit and its parses) is kept by the caller. So a read
fetches only the one commit it needs, at depth 1 (`git fetch --depth=1 --no-tags <url> <ref>`); a
clone that has it already gets only the objects that changed. `remote_commit` (`git ls-remote`) runs
outside any repository and creates nothing. No lock file: within a process, one lock per clone keeps
two threads off the same fabric's clone; no two processes share a scratch directory.

Every git command runs in its own process group under a deadline that ends the whole group, so a
stalled server cannot leave a `git-remote-http` or `ssh` behind holding a pipe. What is read is
bounded before it is read (sizes come from `git ls-tree -l`): the budgets below, per fabric.

| budget (env HEDGEHOG_SYNC_GIT_<NAME>) | default | what it bounds |
|---|---|---|
| TIMEOUT_SECONDS | 120 | the whole read of one fabric (waiting for its clone, fetch, listing, blobs), or an ls-remote |
| MAX_BYTES | 64 MiB | bytes of the distinct blobs read under the fabric's path |
| MAX_FILES | 10,000 | candidate files (YAML, symlinks included) under the path; the listing itself stops at 10x |
| MAX_DOCUMENTS | 100,000 | YAML documents across the fabric (each file counted at every path it is listed at) |
| MAX_FETCH_BYTES | 1 GiB | the pack one fetch writes (a file-size limit on the fetch, through `prlimit`) |

Each distinct blob is read once per snapshot, whatever the number of paths that list it.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
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
# Where the process's private scratch directory is made (an emptyDir in Kubernetes); default: $TMPDIR.
SCRATCH_ENV = "HEDGEHOG_SYNC_GIT_SCRATCH"
SCRATCH_PREFIX = "hedgehog-sync-git-"
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
# The one local ref a read fetches into: older commits become unreachable and `gc --auto` drops them.
_FETCHED = "refs/hedgehog/fetched"
_NO_SUCH_REF = re.compile(r"couldn't find remote ref", re.IGNORECASE)
_NOT_OUR_REF = re.compile(r"not our ref|unadvertised object|want .* not valid", re.IGNORECASE)
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


# --- the scratch directory and the per-clone locks --------------------------------------------------

_scratch_guard = threading.Lock()
_scratch: Path | None = None  # this process's private scratch directory, made on first use
_clone_locks: dict[str, threading.Lock] = {}  # one per clone directory, shared by every GitRepoCache


def scratch_dir() -> Path:
    """This process's private scratch directory for clones: made on first use (mode 0700) under
    $HEDGEHOG_SYNC_GIT_SCRATCH, else the system temp dir, and removed at interpreter exit."""
    global _scratch
    with _scratch_guard:
        if _scratch is None or not _scratch.is_dir():  # made again if something removed it
            parent = os.environ.get(SCRATCH_ENV) or None
            if parent:
                os.makedirs(parent, exist_ok=True)
            _scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=parent))
            atexit.register(_remove_scratch, _scratch, os.getpid())
        return _scratch


def _remove_scratch(path: Path, owner: int) -> None:
    if os.getpid() == owner:  # a forked child exiting normally leaves its parent's directory alone
        shutil.rmtree(path, ignore_errors=True)


def _clone_lock(d: Path) -> threading.Lock:
    with _scratch_guard:
        return _clone_locks.setdefault(os.path.abspath(d), threading.Lock())


def _after_fork_in_child() -> None:
    # A forked child gets its own scratch directory, and no lock a parent's thread held at the fork.
    global _scratch, _scratch_guard
    _scratch_guard = threading.Lock()
    _scratch = None
    _clone_locks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class GitRepoCache:
    """One scratch bare repository per fabric under `root` (default: this process's private
    `scratch_dir()`); each read fetches the one commit it needs into it.

    With `share_clones`, fabrics that read the same URL with the same credentials (`token_env`), as the
    fabrics of a fleet monorepo do, share one clone instead: a read given the commit its ref points at
    (`commit`, from `remote_commit`) that the clone already holds fetches nothing, so a run's fabrics of
    one repository fetch it once, not once each. Different credentials never share a clone, even for
    one URL: a fabric whose token is revoked must not read what another fabric's token fetched."""

    def __init__(self, root: str | os.PathLike[str] | None = None, timeout_seconds: float | None = None,
                 budgets: GitBudgets | None = None, share_clones: bool = False):
        self._root = Path(root) if root is not None else None
        self.timeout_seconds = timeout_seconds if timeout_seconds is not None else _timeout_from_env()
        self.budgets = budgets if budgets is not None else GitBudgets.from_env()
        self.share_clones = share_clones

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else scratch_dir()

    def repo_dir(self, fabric: str) -> Path:
        _check_fabric(fabric)
        return self.root / fabric / "repo.git"

    def clone_dir(self, fabric: str, settings: GitSettings) -> Path:
        """Where `fabric`'s reads go: its own clone, or with `share_clones` the one clone of its
        (URL, token_env), named by their digest ("_shared" is never a fabric's name)."""
        _check_fabric(fabric)
        if not self.share_clones:
            return self.repo_dir(fabric)
        key = hashlib.sha256(f"{settings.url}\0{settings.token_env or ''}".encode()).hexdigest()[:32]
        return self.root / "_shared" / key / "repo.git"

    def _fetched_ref(self, settings: GitSettings) -> str:
        # A shared clone keeps one local ref per ref its fabrics read (two refs of one monorepo must not
        # move each other's commit out of reach); a fabric's own clone has the one.
        if not self.share_clones:
            return _FETCHED
        return f"{_FETCHED}-{hashlib.sha256(settings.ref.encode()).hexdigest()[:16]}"

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
        # ls-remote runs outside any repository: a GIT_DIR that cannot be one (no discovery, no
        # config of a folder above, nothing created).
        env["GIT_DIR"] = str(git_dir) if git_dir is not None else os.devnull
        if token:
            # The token rides in an env-provided header: never in the URL, argv, or the cache's config.
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"})
        return env

    @contextmanager
    def _locked(self, fabric: str, d: Path, deadline: float, settings: GitSettings) -> Iterator[Path]:
        """The clone `d`, for this thread alone: two threads never work on one clone at once
        (waiting for the other is bounded by the deadline too). Processes never share a scratch root."""
        lock = _clone_lock(d)
        if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise GitTimeoutError(f"fabric {fabric}: the git clone of {safe_url(settings.url)} stayed "
                                  f"locked by another read for {self.timeout_seconds:g} s")
        try:
            d.parent.mkdir(parents=True, exist_ok=True)
            yield d
        finally:
            lock.release()

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

    def read(self, fabric: str, settings: GitSettings, commit: str | None = None) -> GitSnapshot:
        """Fetch, resolve `ref` to a commit and read every candidate file under `path` at it.

        `commit`: the full SHA `ref` points at on the remote now, when the caller has just asked
        (`remote_commit`, same URL and credentials); a clone already holding it is read without a
        fetch. Without it, or when the clone lacks it, `ref` is fetched."""
        deadline = time.monotonic() + self.timeout_seconds
        check_url(settings)
        _check_token_policy(fabric, settings)
        if commit is not None and not (len(commit) == 40 and _HEX.match(commit)):
            raise ValueError(f"fabric {fabric}: {commit!r} is not a full commit SHA")
        with self._locked(fabric, self.clone_dir(fabric, settings), deadline, settings) as d:
            env = self._env(settings, d)
            for attempt in (1, 2):
                try:
                    self._prepare(d, settings, env, deadline)
                    return self._read_cached(fabric, d, settings, env, deadline, commit)
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
                     deadline: float, commit: str | None = None) -> GitSnapshot:
        if commit is None or not self._holds(d, env, settings, deadline, commit):
            commit = self._fetch(fabric, d, env, settings, deadline)
        return self._snapshot(fabric, d, env, settings, commit, deadline)

    def _holds(self, d: Path, env: dict[str, str], settings: GitSettings, deadline: float, commit: str) -> bool:
        """Whether the clone has `commit` (a full SHA) as a commit: fetched before, by this fabric or
        another one of a shared clone."""
        result = self._git(["cat-file", "-e", "--end-of-options", f"{commit}^{{commit}}"], env, d, deadline,
                           settings, "reading the cache of")
        return result.returncode == 0

    def remote_commit(self, fabric: str, settings: GitSettings) -> str:
        """The commit `ref` points to on the remote now, without fetching (`git ls-remote`)."""
        deadline = time.monotonic() + self.timeout_seconds
        check_url(settings)
        _check_token_policy(fabric, settings)
        if _HEX.match(settings.ref) and len(settings.ref) == 40:
            return settings.ref  # a pinned commit never moves
        _check_fabric(fabric)
        ref = settings.ref
        # Outside any repository, from "/": no clone is needed, none is made, nothing is written.
        result = _run(["ls-remote", "--end-of-options", settings.url, f"refs/heads/{ref}", f"refs/tags/{ref}",
                       f"refs/tags/{ref}^{{}}"], self._env(settings, None), Path("/"), deadline)
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

    def _fetch(self, fabric: str, d: Path, env: dict[str, str], settings: GitSettings, deadline: float) -> str:
        """Fetch the commit `ref` names now and return its SHA: that one commit at depth 1, never the
        history. Into an empty clone that is its tree and blobs; into a clone holding an earlier commit,
        only the objects that changed (git negotiates what the clone has). `ref` is tried as a branch,
        then as a tag; a full SHA is fetched by itself. An abbreviated SHA that names neither branch nor
        tag can only be found in history: that case alone fetches every branch and tag in full."""
        ref = settings.ref
        wants = [ref] if _HEX.match(ref) and len(ref) == 40 else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
        fetched = self._fetched_ref(settings)
        for want in wants:
            if self._fetch_refspecs(fabric, d, env, settings, deadline, ["--depth=1"], [f"+{want}:{fetched}"]):
                self._compact(d, env, settings, deadline)
                return self._resolve(d, env, settings, deadline, f"{fetched}^{{commit}}")
        if not _HEX.match(ref):
            raise _no_such_ref(ref)
        # A commit no branch or tag names (or a server that refuses to hand out a commit by its SHA).
        unshallow = ["--unshallow"] if (d / "shallow").exists() else []
        if not self._fetch_refspecs(fabric, d, env, settings, deadline, ["--prune", *unshallow],
                                    ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]):
            raise _no_such_ref(ref)  # pragma: no cover - wildcards always match
        self._compact(d, env, settings, deadline)
        return self._resolve(d, env, settings, deadline, f"{ref}^{{commit}}")

    def _fetch_refspecs(self, fabric: str, d: Path, env: dict[str, str], settings: GitSettings, deadline: float,
                        options: list[str], refspecs: list[str]) -> bool:
        """One `git fetch`; False when the remote has no such ref (or will not hand out that commit).

        No URL is written to the clone: it is given on the command line, and FETCH_HEAD (which would
        record it) is not written. What is fetched always lands in one pack (unpackLimit=1), the one
        file the fetch budget bounds."""
        limit = self.budgets.max_fetch_bytes
        args = ["-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "core.logAllRefUpdates=false",
                "-c", "fetch.unpackLimit=1", "fetch", "--quiet", "--no-write-fetch-head", "--force", "--no-tags",
                *options, "--end-of-options", settings.url, *refspecs]
        result = self._git(args, env, d, deadline, settings, "fetching from", max_file_bytes=limit)
        if result.returncode == 0:
            return True
        self._check_fetch_budget(fabric, d, settings)
        if _NO_SUCH_REF.search(result.stderr) or _NOT_OUR_REF.search(result.stderr):
            return False
        if _CORRUPTION.search(result.stderr) and not _AUTH_FAILURE.search(result.stderr):
            raise _CacheCorrupted(_summary(result.stderr, result.returncode))
        raise self._classify(result, settings, "fetch")

    def _compact(self, d: Path, env: dict[str, str], settings: GitSettings, deadline: float) -> None:
        # Fetches every minute add a pack each: compact them now and then, in the foreground, under
        # the same deadline (a detached `gc --auto` would escape the process group). Commits read
        # earlier are no longer referenced: gc drops them.
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

    def _resolve(self, d: Path, env: dict[str, str], settings: GitSettings, deadline: float, name: str) -> str:
        result = self._git(["rev-parse", "--verify", "--quiet", "--end-of-options", name],
                           env, d, deadline, settings, "reading the cache of")
        if result.returncode == 0:
            return result.stdout.decode().strip()
        if name.startswith(_FETCHED):  # just fetched, yet unreadable: the clone is damaged
            raise _CacheCorrupted(_summary(result.stderr, result.returncode))
        raise _no_such_ref(settings.ref)

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


def _check_fabric(fabric: str) -> None:
    if not PARTITION_KEY.match(fabric):  # validated before any path is built from it
        raise ValueError(f"invalid fabric name {fabric!r}")


def _no_such_ref(ref: str) -> GitRefError:
    return GitRefError(f"ref '{ref}' is not a branch, tag or commit of the repository; fix git.ref in the inventory")


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
