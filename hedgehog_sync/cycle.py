"""One sync of one fabric: read Git and the cluster, compare, keep the report. No Dagster here."""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from hedgehog_sync.connectors import kubernetes as k8s
from hedgehog_sync.connectors.git import GitRepoCache, GitSnapshot, redact_url
from hedgehog_sync.domain.errors import HedgehogSyncError
from hedgehog_sync.domain.inventory import FabricConfig
from hedgehog_sync.domain.model import DesiredState, LiveState
from hedgehog_sync.domain.parsing import ParsedFile, parse_file, parse_files
from hedgehog_sync.domain.recovery import DEFAULT_POLICY, RecoveryPolicy, retry_delay
from hedgehog_sync.domain.report import (
    build_report, failure_from, desired_version, live_version, report_version,
)
from hedgehog_sync.store import ReportStore

GIT_STATE, K8S_STATE, DRIFT_REPORT = "git_state", "k8s_state", "drift_report"
GIT_SLOTS, KUBERNETES_SLOTS = 4, 3


class _ParseCache:
    """Parsed files by (path, blob SHA): a blob that did not change is never parsed again."""

    def __init__(self, capacity: int = 50_000):
        self._items: OrderedDict[tuple[str, str], ParsedFile] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def parse(self, path: str, blob: str, data: bytes) -> ParsedFile:
        key = (path, blob)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        parsed = parse_file(path, data)
        with self._lock:
            self._items[key] = parsed
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return parsed


def desired_from_snapshot(snap: GitSnapshot, ref: str, cache: _ParseCache | None = None) -> DesiredState:
    """Parse a Git snapshot into desired objects, with a finding per bad file and duplicate."""
    blobs = {f.path: f.blob for f in snap.files}
    parse = (lambda path, data: cache.parse(path, blobs[path], data)) if cache else None
    parsed = parse_files(((f.path, f.data) for f in snap.files), parse)
    return DesiredState(commit=snap.commit, ref=ref, objects=parsed.objects, sources=parsed.sources,
                        findings=list(snap.findings) + parsed.findings,
                        commit_message=snap.message, commit_author=snap.author)


class FabricReader:
    """Reads both sides of fabrics, keeping a Git cache, parsed blobs and one API client per fabric."""

    def __init__(self, git_cache: GitRepoCache, page_size: int = 500,
                 git_slots: int = GIT_SLOTS, kubernetes_slots: int = KUBERNETES_SLOTS):
        self.git_cache = git_cache
        self.page_size = page_size
        # The old queue sizes, per process: at most this many reads of each API at once.
        self._git_slots = threading.BoundedSemaphore(git_slots)
        self._kubernetes_slots = threading.BoundedSemaphore(kubernetes_slots)
        self._parse_cache = _ParseCache()
        self._clients: dict[tuple[str | None, str | None], Any] = {}
        self._lock = threading.Lock()

    def read_desired(self, cfg: FabricConfig) -> DesiredState:
        with self._git_slots:
            snap = self.git_cache.read(cfg.name, cfg.git)
        return desired_from_snapshot(snap, cfg.git.ref, self._parse_cache)

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

    @property
    def failed(self) -> bool:
        return self.git_error is not None or self.cluster_error is not None


def _as_sync_error(exc: Exception) -> HedgehogSyncError:
    if isinstance(exc, HedgehogSyncError):
        return exc
    # A bug or an unforeseen library error: keep the fabric isolated, say what it was, redacted.
    wrapped = HedgehogSyncError(f"unexpected {type(exc).__name__}: {redact_url(str(exc))[:500]}")
    wrapped.__cause__ = exc
    return wrapped


def sync_fabric(cfg: FabricConfig, reader: FabricReader, store: ReportStore,
                now: datetime | None = None) -> FabricOutcome:
    """Read, compare and store one fabric's report; never raises for the fabric's own faults."""
    started = time.monotonic()
    now = now or datetime.now(timezone.utc)
    desired: DesiredState | None = None
    live: LiveState | None = None
    git_error = cluster_error = None
    try:
        desired = reader.read_desired(cfg)
    except Exception as exc:  # one fabric's fault never stops the batch
        git_error = _as_sync_error(exc)
    try:
        live = reader.read_live(cfg)
    except Exception as exc:
        cluster_error = _as_sync_error(exc)

    previous = store.latest_report(cfg.name)
    report = build_report(
        cfg.name, desired, live, now=now, ref=cfg.git.ref, previous=previous,
        git_failure=failure_from(git_error) if git_error else None,
        cluster_failure=failure_from(cluster_error) if cluster_error else None,
        rules=cfg.rules,
    )
    before = store.versions(cfg.name)
    versions = dict(before)
    if desired is not None:
        versions[GIT_STATE] = desired_version(desired)
    if live is not None:
        versions[K8S_STATE] = live_version(live)
    versions[DRIFT_REPORT] = report_version(report)
    changed = {name for name, v in versions.items() if before.get(name) != v}
    store.save_report(cfg.name, report)
    # Versions are saved by the caller once the change is recorded: a crash in between re-records it.
    return FabricOutcome(cfg.name, report, desired, live, versions, changed, git_error, cluster_error,
                         time.monotonic() - started)


def sync_fabric_with_retries(cfg: FabricConfig, reader: FabricReader, store: ReportStore,
                             policy: RecoveryPolicy = DEFAULT_POLICY, deadline: float | None = None,
                             sleep: Callable[[float], None] = time.sleep,
                             rng: random.Random | None = None) -> FabricOutcome:
    """sync_fabric, tried again after transient read errors with backoff and Retry-After honoured.

    Bounded: at most policy.max_attempts tries, and never a wait that would pass `deadline`
    (a time.monotonic() value): the next cycle tries again anyway.
    """
    attempt, waited = 1, 0.0
    while True:
        outcome = sync_fabric(cfg, reader, store)
        errors = [e for e in (outcome.git_error, outcome.cluster_error) if e is not None]
        delays = [retry_delay(e, attempt, policy, rng) for e in errors]
        if not errors or any(d is None for d in delays):
            break  # in sync, or a permanent error: no retry storm
        delay = max(d for d in delays if d is not None)
        if deadline is not None and time.monotonic() + delay > deadline:
            break
        sleep(delay)
        waited += delay
        attempt += 1
    outcome.attempts, outcome.waited_s = attempt, waited
    return outcome
