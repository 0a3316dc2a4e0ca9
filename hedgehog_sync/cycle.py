"""One sync of one fabric: read Git and the cluster, compare, keep the report. No Dagster here."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

from hedgehog_sync.connectors import kubernetes as k8s
from hedgehog_sync.connectors.git import GitFile, GitRepoCache, GitSnapshot
from hedgehog_sync.domain.errors import GitTimeoutError, HedgehogSyncError
from hedgehog_sync.domain.inventory import FabricConfig
from hedgehog_sync.domain.limits import GIT_SLOTS, KUBERNETES_SLOTS
from hedgehog_sync.domain import (
    defaults as defaults_module, diff as diff_module, kinds as kinds_module, normalize as normalize_module,
    parsing as parsing_module, plan as plan_module, report as report_module, yamljson as yamljson_module,
)
from hedgehog_sync.domain.model import DesiredState, Finding, LiveState
from hedgehog_sync.domain.parsing import ParsedFile, parse_file, parse_files
from hedgehog_sync.domain.redaction import redact, safe_url
from hedgehog_sync.domain.recovery import DEFAULT_POLICY, RecoveryPolicy, retry_delay
from hedgehog_sync.domain.report import (
    build_report, desired_version, failure_from, live_version, report_version, rules_version, utc_iso,
)
from hedgehog_sync.domain.vocabulary import DRIFTED, IN_SYNC_STATUS

if TYPE_CHECKING:
    from hedgehog_sync.state import StateStore

GIT_STATE, K8S_STATE, DRIFT_REPORT = "git_state", "k8s_state", "drift_report"


def _at_path(parsed: ParsedFile, path: str) -> ParsedFile:
    """A blob's parse as found at `path`: the same objects, its findings naming that path."""
    if all(f.source == path for f in parsed.findings):
        return parsed
    return ParsedFile(objects=parsed.objects, documents=parsed.documents,
                      findings=[dataclasses.replace(f, source=path) for f in parsed.findings])


class _ParseCache:
    """Parsed blobs by SHA: a blob that did not change is never parsed again, whatever its path.

    Bounded in entries and in the bytes of the blobs it holds the parses of."""

    def __init__(self, capacity: int = 50_000, max_source_bytes: int = 64 * 1024 * 1024):
        self._items: OrderedDict[str, tuple[ParsedFile, int]] = OrderedDict()
        self._capacity = capacity
        self._max_source_bytes = max_source_bytes
        self._source_bytes = 0
        self._lock = threading.Lock()

    def parse(self, path: str, blob: str, data: bytes) -> ParsedFile:
        with self._lock:
            hit = self._items.get(blob)
            if hit is not None:
                self._items.move_to_end(blob)
                return _at_path(hit[0], path)
        parsed = parse_file(path, data)
        with self._lock:
            if blob not in self._items:
                self._items[blob] = (parsed, len(data))
                self._source_bytes += len(data)
            while self._items and (len(self._items) > self._capacity or self._source_bytes > self._max_source_bytes):
                _, (_, size) = self._items.popitem(last=False)
                self._source_bytes -= size
        return parsed


def _source_digest(*modules: Any) -> str:
    """A digest of the code that turns inputs into results: a new release invalidates what it cached."""
    h = hashlib.sha256()
    for module in modules:
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()[:16]


PARSER_VERSION = _source_digest(parsing_module, yamljson_module, kinds_module)
ENGINE_VERSION = _source_digest(parsing_module, yamljson_module, kinds_module, defaults_module, normalize_module,
                                diff_module, report_module, plan_module)
INPUTS, INPUTS_REPORT = "inputs", "inputs_report"  # data-version keys of the last comparison


def _finding(f: dict[str, Any]) -> Finding:
    return Finding(f["source"], f["message"], f["level"], f.get("document"))


@dataclass
class CachedRead:
    """What the last full read of a fabric's Git found: its commit and every file's parse."""

    commit: str
    message: str
    author: str
    findings: list[Finding]  # the snapshot's own (symlinks, oversized files)
    files: dict[str, tuple[str, ParsedFile]]  # path -> (blob SHA, parse)
    complete: bool  # every file's parse is in `files` (some may not survive JSON)


class PersistentParses:
    """Each fabric's last Git read, parsed, kept in the state store between runs.

    A run is a new process, so the in-memory cache alone would parse every file of every fabric
    every minute. With this, a cycle whose ref still points at the commit read last time costs one
    `ls-remote` and nothing else, and a new commit parses only the blobs that changed (what `git
    diff` between the two commits would name). Only results that survive a JSON round trip
    unchanged are kept; anything else is parsed again next time.

    The documents of a batch are loaded in one query (`prime`); what a read learns is held in
    `saved` until the caller writes it with the rest of the batch, in one transaction. Given a
    store, a fabric not primed is loaded from it.
    """

    def __init__(self, store: "StateStore | None" = None, docs: Mapping[str, Any] | None = None):
        self.store = store
        self._docs: dict[str, Any] = dict(docs or {})
        self.saved: dict[str, Any] = {}
        self._lock = threading.Lock()

    def prime(self, docs: Mapping[str, Any], fabrics: Any = ()) -> None:
        """The stored documents of a batch; `fabrics` without one have none (not looked up again)."""
        with self._lock:
            for fabric in fabrics:
                self._docs.setdefault(fabric, None)
            self._docs.update(docs)

    def take_saved(self) -> dict[str, Any]:
        with self._lock:
            saved, self.saved = self.saved, {}
            return saved

    def _doc(self, fabric: str) -> Any:
        with self._lock:
            if fabric in self._docs:
                return self._docs[fabric]
        return self.store.parsed_files(fabric) if self.store is not None else None

    @staticmethod
    def _source(settings: Any) -> str:
        return hashlib.sha256(f"{settings.url}\0{settings.ref}\0{settings.path}".encode()).hexdigest()[:16]

    def load(self, fabric: str, settings: Any) -> CachedRead | None:
        doc = self._doc(fabric)
        try:
            if not isinstance(doc, dict) or doc.get("parser") != PARSER_VERSION or doc.get("format") != 2:
                return None
            # Stored once per blob (one blob may be listed at many paths), findings without their path.
            blobs = {blob: (entry["objects"], entry["documents"], entry["findings"])
                     for blob, entry in doc["blobs"].items()}
            files = {}
            for path, blob in doc["files"].items():
                objects, documents, findings = blobs[blob]
                files[path] = (blob, ParsedFile(objects=objects, documents=documents,
                                                findings=[_finding({**f, "source": path}) for f in findings]))
            same_source = doc.get("source") == self._source(settings)
            return CachedRead(doc["commit"] if same_source else "", doc["message"], doc["author"],
                              [_finding(f) for f in doc["findings"]], files, bool(doc["complete"]))
        except (KeyError, TypeError, AttributeError, ValueError):
            return None  # an old or damaged cache is only a cache: parse again

    def save(self, fabric: str, settings: Any, snap: GitSnapshot,
             files: dict[str, tuple[str, ParsedFile]]) -> None:
        blobs: dict[str, dict[str, Any] | None] = {}
        paths = {}
        for path, (blob, parsed) in files.items():
            if blob not in blobs:
                entry = {"objects": parsed.objects, "documents": parsed.documents,
                         "findings": [{k: v for k, v in f.as_dict().items() if k != "source"}
                                      for f in parsed.findings]}
                try:
                    keep = json.loads(json.dumps(entry, allow_nan=False)) == entry
                except (TypeError, ValueError):
                    keep = False  # not plain JSON (a YAML timestamp, a binary scalar): parsed again next time
                blobs[blob] = entry if keep else None
            if blobs[blob] is not None:
                paths[path] = blob
        doc = {
            "parser": PARSER_VERSION, "format": 2, "source": self._source(settings), "commit": snap.commit,
            "message": snap.message, "author": snap.author, "findings": [f.as_dict() for f in snap.findings],
            "complete": len(paths) == len(files), "files": paths,
            "blobs": {blob: entry for blob, entry in blobs.items() if entry is not None}}
        with self._lock:
            self._docs[fabric] = self.saved[fabric] = doc


def desired_from_snapshot(snap: GitSnapshot, ref: str, cache: _ParseCache | None = None,
                          known: dict[str, tuple[str, ParsedFile]] | None = None,
                          parsed_now: dict[str, tuple[str, ParsedFile]] | None = None) -> DesiredState:
    """Parse a Git snapshot into desired objects, with a finding per bad file and duplicate.

    Each distinct blob is parsed once, whatever the number of paths listing it. `known` holds
    earlier parses by path (blob SHA, result): a blob parsed before is not parsed again. Every
    file's (blob, result) is put in `parsed_now` when given.
    """
    blobs = {f.path: f.blob for f in snap.files}
    by_blob: dict[str, ParsedFile] = {blob: parsed for blob, parsed in (known or {}).values()}

    def parse(path: str, data: bytes) -> ParsedFile:
        blob = blobs[path]
        hit = by_blob.get(blob)
        if hit is not None:
            result = _at_path(hit, path)
        else:
            result = cache.parse(path, blob, data) if cache else parse_file(path, data)
            by_blob[blob] = result
        if parsed_now is not None:
            parsed_now[path] = (blob, result)
        return result

    parsed = parse_files(((f.path, f.data) for f in snap.files), parse)
    return DesiredState(commit=snap.commit, ref=ref, objects=parsed.objects, sources=parsed.sources,
                        findings=list(snap.findings) + parsed.findings,
                        commit_message=snap.message, commit_author=snap.author)


class FabricReader:
    """Reads both sides of fabrics, keeping a Git cache, parsed blobs and one API client per fabric."""

    def __init__(self, git_cache: GitRepoCache, page_size: int = 500,
                 git_slots: int = GIT_SLOTS, kubernetes_slots: int = KUBERNETES_SLOTS,
                 parses: PersistentParses | None = None, share_remote_heads: bool = False):
        self.git_cache = git_cache
        self.page_size = page_size
        self.parses = parses
        self.share_remote_heads = share_remote_heads
        # The old queue sizes, per process: at most this many reads of each API at once.
        self._git_slots = threading.BoundedSemaphore(git_slots)
        self._kubernetes_slots = threading.BoundedSemaphore(kubernetes_slots)
        self._parse_cache = _ParseCache()
        self._clients: dict[tuple[str | None, str | None], Any] = {}
        self._heads: dict[tuple[str, str, str | None], str] = {}  # (url, ref, token_env) -> commit
        self._head_locks: dict[tuple[str, str, str | None], threading.Lock] = {}
        # (url, ref, token_env) -> the fabric whose git request to it timed out in this step
        self._timed_out: dict[tuple[str, str, str | None], str] = {}
        self._lock = threading.Lock()

    def read_desired(self, cfg: FabricConfig) -> DesiredState:
        cached = self.parses.load(cfg.name, cfg.git) if self.parses is not None else None
        head = None
        if cached is not None and cached.complete and cached.commit:
            head = self._remote_head(cfg)
            if head == cached.commit:
                # A commit's tree never changes: what was read of it last time is what it holds now.
                snap = GitSnapshot(cached.commit, cached.message, cached.author,
                                   [GitFile(path, blob, b"") for path, (blob, _) in cached.files.items()],
                                   list(cached.findings))
                return desired_from_snapshot(snap, cfg.git.ref, known=cached.files)
        snap = self._read_snapshot(cfg, head)
        if self.parses is None:
            return desired_from_snapshot(snap, cfg.git.ref, self._parse_cache)
        known = cached.files if cached is not None else {}
        parsed_now: dict[str, tuple[str, ParsedFile]] = {}
        desired = desired_from_snapshot(snap, cfg.git.ref, self._parse_cache, known, parsed_now)
        if cached is None or cached.commit != snap.commit or not cached.complete or \
                {p: b for p, (b, _) in parsed_now.items()} != {p: b for p, (b, _) in known.items()}:
            self.parses.save(cfg.name, cfg.git, snap, parsed_now)
        return desired

    def _read_snapshot(self, cfg: FabricConfig, head: str | None) -> GitSnapshot:
        """The fabric's commit read from Git. With a clone shared per repository (`share_clones`) and
        heads shared for the step, the fabrics of one repository (a fleet monorepo) take turns: the
        first fetches, and the commit it found is where the ref points for the others too, which then
        read it from the clone without fetching. A failure is each fabric's own, except a timeout (see
        `_ask_once`)."""
        if not (self.share_remote_heads and self.git_cache.share_clones):
            with self._git_slots:
                return self.git_cache.read(cfg.name, cfg.git)
        key = (cfg.git.url, cfg.git.ref, cfg.git.token_env)
        with self._lock:
            gate = self._head_locks.setdefault(key, threading.Lock())
        with gate:
            snap = self._ask_once(key, cfg, lambda: self.git_cache.read(
                cfg.name, cfg.git, commit=head or self._heads.get(key)))
            self._heads.setdefault(key, snap.commit)
            return snap

    def _ask_once(self, key: tuple[str, str, str | None], cfg: FabricConfig, ask: Callable[[], Any]) -> Any:
        """`ask()` (a git request for `cfg`), unless a request to the same repository timed out in this
        step: then the others of that repository are not asked again, each gets its own timeout error
        at once, until that fabric's own retry (within the cycle) gets an answer. Fabrics of one
        repository take turns (they share a gate), so without this a hung server would cost its N
        fabrics N timeouts one after the other; with it, one a step. The next step (a new reader) asks
        again."""
        first = self._timed_out.get(key)
        if first is not None and first != cfg.name:  # the fabric that timed out may retry: its own retry
            raise GitTimeoutError(
                f"fabric {cfg.name}: git was not asked: {safe_url(cfg.git.url)} did not answer fabric {first}'s "
                f"request within {self.git_cache.timeout_seconds:g} s in this run "
                "(HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS); the next run asks again")
        try:
            with self._git_slots:
                answer = ask()
        except GitTimeoutError:
            self._timed_out.setdefault(key, cfg.name)
            raise
        self._timed_out.pop(key, None)  # it answered after all: the others ask again too
        return answer

    def _remote_head(self, cfg: FabricConfig) -> str:
        """The commit the fabric's ref points at. With share_remote_heads (a reader that lives for one
        step of one run), asked once per (URL, ref, credentials): fabrics that share a repository, as
        in a fleet monorepo, share one `ls-remote`. Only an answer is shared; a failure is each
        fabric's own, except a timeout (`_ask_once`). A reader kept across cycles must not share: it
        would never see a ref move."""
        if not self.share_remote_heads:
            with self._git_slots:
                return self.git_cache.remote_commit(cfg.name, cfg.git)
        key = (cfg.git.url, cfg.git.ref, getattr(cfg.git, "token_env", None))
        with self._lock:
            gate = self._head_locks.setdefault(key, threading.Lock())
        with gate:
            head = self._heads.get(key)
            if head is None:
                head = self._ask_once(key, cfg, lambda: self.git_cache.remote_commit(cfg.name, cfg.git))
                self._heads[key] = head
            return head

    def _client(self, cfg: FabricConfig) -> Any:
        key = (cfg.kubernetes.kubeconfig, cfg.kubernetes.context)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = k8s.api_client_for(cfg.kubernetes.kubeconfig, cfg.kubernetes.context)
                self._clients[key] = client
            return client

    def read_live(self, cfg: FabricConfig) -> LiveState:
        with self._kubernetes_slots:
            return k8s.read_live(self._client(cfg), namespace=cfg.kubernetes.namespace,
                                 page_size=self.page_size)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                try:
                    client.close()
                except Exception:  # closing a pool must never hide the run's real outcome
                    pass
            self._clients.clear()


@dataclass
class SideRead:
    """One side of a fabric (Git or the cluster) as read this cycle, after any retries."""

    value: Any  # DesiredState or LiveState; None when it could not be read
    error: HedgehogSyncError | None = None
    version: str | None = None  # data version of `value` (what decides whether to record it)
    attempts: int = 1
    waited_s: float = 0.0  # time spent waiting between attempts (backoff, Retry-After)
    duration_s: float = 0.0


@dataclass
class FabricOutcome:
    fabric: str
    report: dict[str, Any]
    desired: DesiredState | None
    live: LiveState | None
    versions: dict[str, str]
    changed: set[str] = field(default_factory=set)  # assets whose data version moved this cycle
    git_error: HedgehogSyncError | None = None
    cluster_error: HedgehogSyncError | None = None
    duration_s: float = 0.0
    attempts: int = 1
    waited_s: float = 0.0  # time spent waiting between attempts (backoff, Retry-After)
    compare_error: HedgehogSyncError | None = None  # both sides read, but comparing or recording failed
    plan: Any = None  # domain.plan.Plan: what to apply and delete to match Git again (None: not computed)

    @property
    def failed(self) -> bool:
        return self.git_error is not None or self.cluster_error is not None or self.compare_error is not None


class CompareError(HedgehogSyncError):
    """Both sides were read, but comparing, rendering or recording the fabric failed (a value of a
    shape nothing expected, or a bug): the fabric is `unknown` until the next cycle, the batch goes on."""


def _as_sync_error(exc: BaseException, doing: str | None = None) -> HedgehogSyncError:
    """The error as one of ours, its text redacted. `doing` names the step that failed (then the
    result is a CompareError): "comparing" reads better in a report than a bare class name."""
    if isinstance(exc, HedgehogSyncError) and doing is None:
        return exc
    # A bug or an unforeseen library error: keep the fabric contained, say what it was, redacted.
    what = exc if isinstance(exc, HedgehogSyncError) else f"unexpected {type(exc).__name__}"
    text = redact(str(exc))[:500]
    message = f"{doing} failed: {type(exc).__name__}: {text}" if doing else f"{what}: {text}"
    wrapped = CompareError(message) if doing else HedgehogSyncError(message)
    wrapped.__cause__ = exc
    return wrapped


ONE_ATTEMPT = RecoveryPolicy(max_attempts=1)


def read_with_retries(read: Callable[[], Any], version: Callable[[Any], str],
                      policy: RecoveryPolicy = DEFAULT_POLICY, deadline: float | None = None,
                      sleep: Callable[[float], None] = time.sleep,
                      rng: random.Random | None = None) -> SideRead:
    """Call `read` until it succeeds, a permanent error, policy.max_attempts, or `deadline`.

    Never raises for the fabric's own faults. Transient errors wait with backoff, or as long as
    the server's Retry-After asks; no wait may pass `deadline` (a time.monotonic() value): the
    next cycle tries again anyway.
    """
    started = time.monotonic()
    attempt, waited = 1, 0.0
    while True:
        try:
            value = read()
            return SideRead(value, None, version(value), attempt, waited, time.monotonic() - started)
        except Exception as exc:  # one fabric's fault never stops the batch
            error = _as_sync_error(exc)
        delay = retry_delay(error, attempt, policy, rng)
        if delay is None or (deadline is not None and time.monotonic() + delay > deadline):
            return SideRead(None, error, None, attempt, waited, time.monotonic() - started)
        sleep(delay)
        waited += delay
        attempt += 1


def read_git_side(cfg: FabricConfig, reader: FabricReader, policy: RecoveryPolicy = DEFAULT_POLICY,
                  deadline: float | None = None, **kw: Any) -> SideRead:
    return read_with_retries(lambda: reader.read_desired(cfg), desired_version, policy, deadline, **kw)


def read_cluster_side(cfg: FabricConfig, reader: FabricReader, policy: RecoveryPolicy = DEFAULT_POLICY,
                      deadline: float | None = None, **kw: Any) -> SideRead:
    return read_with_retries(lambda: reader.read_live(cfg), live_version, policy, deadline, **kw)


def _unchanged_since(previous: dict[str, Any] | None, before: dict[str, str], inputs: str) -> bool:
    return (previous is not None and previous.get("status") in (IN_SYNC_STATUS, DRIFTED)
            and before.get(INPUTS) == inputs and before.get(INPUTS_REPORT) == report_version(previous))


class Stored(Protocol):
    """What comparing needs of a fabric's stored state (state.FabricState is one)."""

    report: dict[str, Any] | None
    versions: dict[str, str]


def compare_fabric(cfg: FabricConfig, git: SideRead, cluster: SideRead, stored: Stored,
                   now: datetime | None = None) -> FabricOutcome:
    """Compare what was read of both sides against the fabric's stored state; never raises for its
    faults, and keeps nothing (the caller writes the outcome with its batch).

    Anything that goes wrong while comparing (a value of an unexpected shape, a bug) makes this
    fabric's report `unknown`, naming the error: the rest of its batch is compared as usual.
    """
    started = time.monotonic()
    now = now or datetime.now(timezone.utc)
    desired, live = git.value, cluster.value
    previous = stored.report
    before = dict(stored.versions or {})
    versions = dict(before)
    compare_error: HedgehogSyncError | None = None
    inputs = None
    plan = None
    try:
        if desired is not None:
            versions[GIT_STATE] = git.version or desired_version(desired)
        if live is not None:
            versions[K8S_STATE] = cluster.version or live_version(live)
        if desired is not None and live is not None:
            inputs = "/".join((versions[GIT_STATE], versions[K8S_STATE], rules_version(cfg.rules), ENGINE_VERSION))
        if inputs is not None and _unchanged_since(previous, before, inputs):
            # Same commit, same live objects, same rules and code: the comparison would come out the
            # same, so the last report stands, checked again now (the steady cycle's saving).
            report = {**previous, "generated_at": utc_iso(now)}
        else:
            report = build_report(
                cfg.name, desired, live, now=now, ref=cfg.git.ref, previous=previous,
                git_failure=failure_from(git.error) if git.error else None,
                cluster_failure=failure_from(cluster.error) if cluster.error else None,
                rules=cfg.rules, git_url=cfg.git.url,
            )
        plan = _plan_of(report, desired, cfg)
        report["plan_version"] = plan.version  # the history shows what the fix was at each point
        versions[DRIFT_REPORT] = report_version(report)
    except Exception as exc:  # contained: this fabric is unknown, its batch goes on
        compare_error = _as_sync_error(exc, "comparing")
        inputs = None
        report = unknown_report(cfg, now, previous, compare_error, git.error, cluster.error)
        plan = _plan_of(report, None, cfg)
        versions[DRIFT_REPORT] = report_version(report)
    if inputs is not None:
        # Which inputs gave which report: a report saved by a cycle whose versions were not (a
        # crash between the two) never matches, so it is compared afresh.
        versions[INPUTS], versions[INPUTS_REPORT] = inputs, versions[DRIFT_REPORT]
    else:
        versions.pop(INPUTS, None)
        versions.pop(INPUTS_REPORT, None)
    changed = {name for name, v in versions.items() if before.get(name) != v}
    return FabricOutcome(cfg.name, report, desired, live, versions, changed, git.error, cluster.error,
                         duration_s=git.duration_s + cluster.duration_s + time.monotonic() - started,
                         attempts=max(git.attempts, cluster.attempts), waited_s=git.waited_s + cluster.waited_s,
                         compare_error=compare_error, plan=plan)


def _plan_of(report: dict[str, Any], desired: DesiredState | None, cfg: FabricConfig) -> Any:
    """The fabric's remediation plan; a fault in planning never makes the fabric unknown."""
    from hedgehog_sync.domain.plan import Plan, plan_for

    try:
        plan = plan_for(report, desired)
    except Exception as exc:
        plan = Plan(str(report.get("fabric") or ""), reason=f"the plan could not be computed: "
                                                           f"{type(exc).__name__}: {redact(str(exc))[:300]}")
    plan.kubeconfig, plan.context = cfg.kubernetes.kubeconfig, cfg.kubernetes.context
    return plan


def unknown_report(cfg: FabricConfig, now: datetime, previous: dict[str, Any] | None, error: HedgehogSyncError,
                   git_error: HedgehogSyncError | None = None,
                   cluster_error: HedgehogSyncError | None = None) -> dict[str, Any]:
    """An `unknown` report that names `error` and compares nothing: what a fabric gets when its data
    could not be compared or recorded. Drift seen before is carried as unchecked, as after a failed read."""
    failures = dict(git_failure=failure_from(git_error) if git_error else None,
                    cluster_failure=failure_from(cluster_error) if cluster_error else None)
    try:
        report = build_report(cfg.name, None, None, now=now, ref=cfg.git.ref, previous=previous, **failures)
    except Exception:  # the previous report itself is what fails: start from nothing
        report = build_report(cfg.name, None, None, now=now, ref=cfg.git.ref, **failures)
    report["errors"].append({"source": "compare", "level": "error", "message": str(error),
                             "error_class": type(error).__name__})
    return report


def contained_outcome(outcome: FabricOutcome, error: BaseException, doing: str,
                      now: datetime | None = None) -> FabricOutcome:
    """`outcome` turned `unknown` because `doing` (rendering, recording) failed after the comparison:
    the report that is stored and shown names the error, and the next cycle compares afresh."""
    now = now or datetime.now(timezone.utc)
    wrapped = _as_sync_error(error, doing)
    # No previous report to carry drift from: the one just built is what could not be rendered.
    cfg_like = _NameAndRef(outcome.fabric, (outcome.report.get("git") or {}).get("ref") or "")
    report = unknown_report(cfg_like, now, None, wrapped, outcome.git_error, outcome.cluster_error)
    versions = {k: v for k, v in outcome.versions.items() if k not in (INPUTS, INPUTS_REPORT)}
    versions[DRIFT_REPORT] = report_version(report)
    return FabricOutcome(outcome.fabric, report, outcome.desired, outcome.live, versions,
                         set(outcome.changed) | {DRIFT_REPORT}, outcome.git_error, outcome.cluster_error,
                         duration_s=outcome.duration_s, attempts=outcome.attempts, waited_s=outcome.waited_s,
                         compare_error=wrapped)


@dataclass(frozen=True)
class _GitRef:
    ref: str


class _NameAndRef:
    """What unknown_report needs of a fabric's config, for a fabric known only by its outcome."""

    def __init__(self, name: str, ref: str):
        self.name, self.git = name, _GitRef(ref)


def _compare_and_keep(cfg: FabricConfig, reader: FabricReader, store: "StateStore", git: SideRead,
                      cluster: SideRead, now: datetime | None) -> FabricOutcome:
    from hedgehog_sync.state import FabricWrite

    outcome = compare_fabric(cfg, git, cluster, store.load([cfg.name])[cfg.name], now)
    parses = reader.parses.take_saved().get(cfg.name) if reader.parses is not None else None
    store.commit([FabricWrite(cfg.name, report=outcome.report, parses=parses)])
    return outcome


def sync_fabric(cfg: FabricConfig, reader: FabricReader, store: "StateStore",
                now: datetime | None = None) -> FabricOutcome:
    """Read both sides once, compare, and keep one fabric's report (and what its Git read parsed);
    never raises for its faults. Versions and health are the sync runs' (see batch.py)."""
    return _compare_and_keep(cfg, reader, store, read_git_side(cfg, reader, ONE_ATTEMPT),
                             read_cluster_side(cfg, reader, ONE_ATTEMPT), now)


def sync_fabric_with_retries(cfg: FabricConfig, reader: FabricReader, store: "StateStore",
                             policy: RecoveryPolicy = DEFAULT_POLICY, deadline: float | None = None,
                             sleep: Callable[[float], None] = time.sleep,
                             rng: random.Random | None = None) -> FabricOutcome:
    """sync_fabric, each side tried again after transient read errors (backoff, Retry-After honoured).

    Bounded: at most policy.max_attempts tries per side, and never a wait that would pass `deadline`.
    """
    git = read_git_side(cfg, reader, policy, deadline, sleep=sleep, rng=rng)
    cluster = read_cluster_side(cfg, reader, policy, deadline, sleep=sleep, rng=rng)
    return _compare_and_keep(cfg, reader, store, git, cluster, None)
