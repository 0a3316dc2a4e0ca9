"""Read a fabric's desired state from Git: a cached bare clone per fabric, fetched, read at a commit."""

from __future__ import annotations

import base64
import configparser
import fcntl
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import git  # GitPython
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from hedgehog_sync.domain.errors import (
    GitAuthError, GitRefError, GitTimeoutError, GitUnreachableError, GitUrlRefused,
)
from hedgehog_sync.domain.inventory import PARTITION_KEY, GitSettings
from hedgehog_sync.domain.model import Finding
from hedgehog_sync.domain.parsing import DEFAULT_LIMITS, is_candidate_file

FETCH_TIMEOUT_SECONDS = 120
# Operators (and the fault tests) may shorten the limit on one git operation without code.
TIMEOUT_ENV = "HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS"
# What git and curl print for a refused credential. Matched as phrases, never as bare numbers:
# "401" alone also matches a port (127.0.0.1:40137) or a commit SHA in the same text.
_AUTH_FAILURE = re.compile(
    r"authentication failed|could not read (username|password)|permission denied \(|"
    r"host key verification failed|terminal prompts disabled|returned error: 40[13]\b|"
    r"\bhttp 40[13]\b", re.IGNORECASE)
# What git prints when the local cache, not the remote, is broken.
_CORRUPTION = re.compile(
    r"not a git repository|bad object|corrupt|unable to read|loose object|did not send all necessary|"
    r"bad config|invalid object|missing blob|failed to read object|is empty|packfile .* cannot be accessed|"
    r"unable to open object pack|index-pack failed", re.IGNORECASE)
_TIMED_OUT = re.compile(r"operation too slow|operation timed out|curl 28\b", re.IGNORECASE)
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-f]{7,40}$")


def redact_url(text: str) -> str:
    """Remove user:password@ from every URL in a text."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


@dataclass
class GitFile:
    path: str  # relative to the fabric's folder in the repository
    blob: str  # the blob's SHA: same SHA, same bytes, same parse
    data: bytes


@dataclass
class GitSnapshot:
    commit: str
    message: str
    author: str
    files: list[GitFile] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def check_url(settings: GitSettings) -> None:
    """Refuse URLs that would make git run commands or read local files without consent."""
    url = settings.url
    if url.startswith("-") or "::" in url.split("/", 1)[0]:
        raise GitUrlRefused("git URL refused: transport helpers (ext::, fd::) and leading '-' are not allowed")
    if re.match(r"^[a-z][a-z0-9+.-]*://([^/@]*@)?\[?-", url, re.IGNORECASE) or re.match(r"^[^/:]*@?-[^/]*:", url):
        raise GitUrlRefused("git URL refused: a host or user starting with '-' would be read as an ssh option")
    if re.match(r"^https?://[^/]*@", url, re.IGNORECASE):
        raise GitUrlRefused("git URL refused: credentials in the URL; name an env var in token_env instead")
    if settings.is_local() and not settings.allow_local:
        raise GitUrlRefused("git URL refused: local paths need allow_local: true")


def _allowed_protocols(settings: GitSettings) -> str:
    return "https:http:ssh:git" + (":file" if settings.allow_local else "")


class GitRepoCache:
    """One bare repository per fabric under `root`; clone once, then fetch."""

    def __init__(self, root: str | os.PathLike[str], timeout_seconds: float | None = None):
        self.root = Path(root)
        self.timeout_seconds = timeout_seconds if timeout_seconds is not None else _timeout_from_env()

    def repo_dir(self, fabric: str) -> Path:
        if not PARTITION_KEY.match(fabric):  # validated before any path is built from it
            raise ValueError(f"invalid fabric name {fabric!r}")
        return self.root / fabric / "repo.git"

    def _env(self, settings: GitSettings) -> dict[str, str]:
        env = {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "true",
            "SSH_ASKPASS": "true",
            "GIT_ALLOW_PROTOCOL": _allowed_protocols(settings),
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            # Killing git at the timeout leaves its HTTP helper holding the pipe: let curl give up
            # on a stalled server by itself within the same limit.
            "GIT_HTTP_LOW_SPEED_LIMIT": "1",
            "GIT_HTTP_LOW_SPEED_TIME": str(max(1, int(self.timeout_seconds))),
        }
        token = os.environ.get(settings.token_env) if settings.token_env else None
        if token:
            # The token rides in an env-provided header: never in the URL, argv, or the cache's config.
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"})
        return env

    @contextmanager
    def _locked(self, fabric: str) -> Iterator[Path]:
        d = self.repo_dir(fabric)
        d.parent.mkdir(parents=True, exist_ok=True)
        with open(d.parent / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two runs on one fabric must not fetch at once
            try:
                yield d
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _open(self, d: Path, settings: GitSettings) -> git.Repo:
        try:
            repo = git.Repo(d)
            if repo.bare and repo.remotes and repo.remotes.origin.url == settings.url:
                repo.git.rev_parse("--git-dir")  # GitPython opens a repository git itself refuses
                return repo
        except (InvalidGitRepositoryError, NoSuchPathError, configparser.Error, GitCommandError,
                OSError, ValueError, AttributeError):
            pass
        # Missing, corrupted or pointing elsewhere: start again, the remote is the source of truth.
        shutil.rmtree(d, ignore_errors=True)
        repo = git.Repo.init(d, bare=True)
        repo.git.remote("add", "origin", settings.url)
        return repo

    def read(self, fabric: str, settings: GitSettings) -> GitSnapshot:
        """Fetch, resolve `ref` to a commit and read every candidate file under `path` at it."""
        check_url(settings)
        with self._locked(fabric) as d:
            try:
                return self._read_cached(self._open(d, settings), settings)
            except _CacheCorrupted:
                # A damaged cache (a cut pack, a lost object, a disk error) is not the remote's
                # fault: throw it away and clone again, once.
                shutil.rmtree(d, ignore_errors=True)
            try:
                return self._read_cached(self._open(d, settings), settings)
            except _CacheCorrupted as exc:
                raise GitUnreachableError(f"git cache of {redact_url(settings.url)} is unusable even "
                                          f"after a fresh clone: {exc}") from None

    def _read_cached(self, repo: git.Repo, settings: GitSettings) -> GitSnapshot:
        env = self._env(settings)
        try:
            self._fetch(repo, env, settings.ref)
        except GitCommandError as exc:
            if _CORRUPTION.search(str(exc.stderr or "")):
                raise _CacheCorrupted(_last_line(exc)) from None
            raise self._classify(exc, settings) from None
        commit = self._resolve(repo, settings.ref)
        try:
            return self._snapshot(repo, commit, settings.path)
        except (GitCommandError, ValueError, OSError) as exc:  # gitdb raises BadObject (a ValueError)
            raise _CacheCorrupted(type(exc).__name__) from None

    def remote_commit(self, fabric: str, settings: GitSettings) -> str:
        """The commit `ref` points to on the remote now, without fetching (`git ls-remote`)."""
        check_url(settings)
        if _HEX.match(settings.ref) and len(settings.ref) == 40:
            return settings.ref  # a pinned commit never moves
        with self._locked(fabric) as d:
            repo = self._open(d, settings)
            try:
                out = repo.git.ls_remote("origin", f"refs/heads/{settings.ref}", f"refs/tags/{settings.ref}",
                                         f"refs/tags/{settings.ref}^{{}}", env=self._env(settings),
                                         kill_after_timeout=self.timeout_seconds)
            except GitCommandError as exc:
                raise self._classify(exc, settings) from None
        refs = dict(reversed(line.split("\t", 1)) for line in out.splitlines() if "\t" in line)
        for name in (f"refs/heads/{settings.ref}", f"refs/tags/{settings.ref}^{{}}", f"refs/tags/{settings.ref}"):
            if name in refs:
                return refs[name]
        raise GitRefError(f"ref '{settings.ref}' is not a branch or tag of the repository; "
                          "fix git.ref in the inventory")

    def _fetch(self, repo: git.Repo, env: dict[str, str], ref: str) -> None:
        repo.git.fetch("--prune", "--force", "--no-tags", "origin",
                       "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*",
                       env=env, kill_after_timeout=self.timeout_seconds)
        if _HEX.match(ref) and not _has_commit(repo, ref):
            try:  # a pinned commit that no branch or tag reaches
                repo.git.fetch("origin", ref, env=env, kill_after_timeout=self.timeout_seconds)
            except GitCommandError:
                pass  # resolve() reports the missing commit clearly

    @staticmethod
    def _classify(exc: GitCommandError, settings: GitSettings) -> Exception:
        stderr = redact_url(str(exc.stderr or ""))
        token = os.environ.get(settings.token_env) if settings.token_env else None
        if token:
            stderr = stderr.replace(token, "***")
        url = redact_url(settings.url)
        detail = stderr.strip().splitlines()[-1].strip() if stderr.strip() else f"exit {exc.status}"
        detail = detail.removeprefix("stderr: ").strip("'")
        low = stderr.lower()
        if exc.status == -9 or _TIMED_OUT.search(stderr) or "timed out" in low and "connection" not in low:
            return GitTimeoutError(f"git fetch from {url} timed out: {detail}")
        if _AUTH_FAILURE.search(stderr):
            return GitAuthError(f"git fetch from {url} was refused (credentials or host key): {detail}")
        if any(s in low for s in ("not found", "does not appear to be a git repository",
                                  "repository not found")):
            return GitRefError(f"git repository {url} not found: {detail}")
        if "transport" in low and "not allowed" in low:
            return GitUrlRefused(f"git URL {url} refused: {detail}")
        return GitUnreachableError(f"git fetch from {url} failed: {detail}")

    @staticmethod
    def _resolve(repo: git.Repo, ref: str) -> str:
        candidates = [f"refs/remotes/origin/{ref}", f"refs/tags/{ref}"]
        if _HEX.match(ref):
            candidates.append(ref)
        for candidate in candidates:
            try:
                return repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{candidate}^{{commit}}")
            except GitCommandError:
                continue
        raise GitRefError(f"ref '{ref}' is not a branch, tag or commit of the repository; "
                          "fix git.ref in the inventory")

    @staticmethod
    def _snapshot(repo: git.Repo, commit_sha: str, path: str) -> GitSnapshot:
        commit = repo.commit(commit_sha)
        snap = GitSnapshot(commit=commit_sha, message=str(commit.summary),
                           author=str(commit.author.name or ""))
        prefix = f"{path}/" if path else ""
        args = ["-r", "-z", "-l", "--full-tree", commit_sha]
        if path:
            args += ["--", path]
        listing = repo.git.ls_tree(*args)
        for entry in filter(None, listing.split("\0")):
            meta, _, full_path = entry.partition("\t")
            mode, kind, blob, size = meta.split()
            rel = full_path[len(prefix):] if prefix and full_path.startswith(prefix) else full_path
            if not is_candidate_file(rel):
                continue
            if mode == "120000":
                snap.findings.append(Finding(rel, "symbolic link ignored: desired state must be real files",
                                             level="warning"))
                continue
            if kind != "blob":
                continue
            if size.isdigit() and int(size) > DEFAULT_LIMITS.max_file_bytes:
                snap.findings.append(Finding(rel, f"file is {size} bytes, over the limit of "
                                                  f"{DEFAULT_LIMITS.max_file_bytes}; split it"))
                continue
            data = repo.odb.stream(bytes.fromhex(blob)).read()
            snap.files.append(GitFile(rel, blob, data))
        return snap


class _CacheCorrupted(Exception):
    """The local cache of a repository is damaged; cloning again repairs it."""


def _last_line(exc: GitCommandError) -> str:
    lines = redact_url(str(exc.stderr or "")).strip().splitlines()
    return lines[-1].removeprefix("stderr: ").strip(" '") if lines else f"exit {exc.status}"


def _timeout_from_env() -> float:
    value = os.environ.get(TIMEOUT_ENV)
    try:
        seconds = float(value) if value else FETCH_TIMEOUT_SECONDS
    except ValueError:
        seconds = FETCH_TIMEOUT_SECONDS
    return seconds if seconds > 0 else FETCH_TIMEOUT_SECONDS


def _has_commit(repo: git.Repo, sha: str) -> bool:
    try:
        repo.git.cat_file("-e", f"{sha}^{{commit}}")
        return True
    except GitCommandError:
        return False
