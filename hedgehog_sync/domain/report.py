"""The drift report of one fabric (DESIGN section 6), and the data versions that decide what to record."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from hedgehog_sync.domain.diff import (
    EXTRA, IN_SYNC, MISSING, MODIFIED, compare, drift_score, max_severity,
)
from hedgehog_sync.domain.model import DesiredState, Finding, LiveState, Obj
from hedgehog_sync.domain.normalize import (
    DEFAULT_RULES, NON_DESIRED_TOP_LEVEL, SERVER_METADATA, NormalizeRules,
)

IN_SYNC_STATUS, DRIFTED, UNKNOWN = "in_sync", "drifted", "unknown"


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ReadFailure:
    """A side that could not be read at all: what failed, and the error class name."""

    message: str
    error_class: str

    def as_dict(self, side: str) -> dict[str, Any]:
        return {"source": side, "level": "error", "message": self.message, "error_class": self.error_class}


def build_report(
    fabric: str,
    desired: DesiredState | None,
    live: LiveState | None,
    *,
    now: datetime,
    ref: str,
    previous: dict[str, Any] | None = None,
    git_failure: ReadFailure | None = None,
    cluster_failure: ReadFailure | None = None,
    rules: NormalizeRules = DEFAULT_RULES,
) -> dict[str, Any]:
    """The report for one fabric. A side that is missing or partial makes the status `unknown`."""
    errors: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    if git_failure:
        errors.append(git_failure.as_dict("git"))
    if cluster_failure:
        errors.append(cluster_failure.as_dict("cluster"))
    for finding in (desired.findings if desired else []) + (live.findings if live else []):
        (errors if finding.level == "error" else warnings).append(finding.as_dict())

    desired_partial = desired is None or any(f.level == "error" for f in desired.findings)
    live_partial = live is None or not live.complete
    # A broken file in Git may define objects that now look "extra": do not accuse them.
    comparison = compare(desired.objects if desired else [], live.objects if live else [], rules,
                         desired.sources if desired else None,
                         include_extra=not desired_partial)
    drifts = comparison.drifts
    if desired is None or live is None:
        drifts = []  # with one side unread, every resource would look missing or extra
        comparison.counts = dict.fromkeys(comparison.counts, 0)

    if desired_partial or live_partial:
        status = UNKNOWN
    else:
        status = DRIFTED if drifts else IN_SYNC_STATUS

    resources = [d.as_dict() for d in drifts]
    _carry_since(resources, previous, now)
    # Drift this report could not re-check keeps its first-seen time for the report that can.
    if desired is None or live is None:
        unchecked = _previous_drift(previous)
    elif desired_partial:
        unchecked = [r for r in _previous_drift(previous) if r["state"] == EXTRA]
    else:
        unchecked = []
    report: dict[str, Any] = {
        "fabric": fabric,
        "status": status,
        "generated_at": utc_iso(now),
        "git": {
            "commit": desired.commit if desired else None,
            "ref": ref,
            "resources": len(desired.objects) if desired else None,
            "message": desired.commit_message if desired else None,
            "author": desired.commit_author if desired else None,
        },
        "cluster": {
            "resources": len(live.objects) if live else None,
            "server": live.server if live else None,
        },
        "summary": {state: comparison.counts[state] for state in (IN_SYNC, MODIFIED, MISSING, EXTRA)},
        "score": drift_score(drifts),
        "severity": max_severity(d.severity for d in drifts),
        "drift_since": _fabric_drift_since(status, bool(drifts), previous, now),
        "resources": resources,
        "errors": errors,
        "warnings": warnings,
    }
    if unchecked:
        report["unchecked_drift"] = unchecked
    return report


def _fabric_drift_since(status: str, has_drift: bool, previous: dict[str, Any] | None,
                        now: datetime) -> str | None:
    if not has_drift:
        return None if status == IN_SYNC_STATUS else (previous or {}).get("drift_since")
    carried = (previous or {}).get("drift_since")
    return carried or utc_iso(now)


def _resource_key(r: dict[str, Any]) -> tuple[str, str, str, str, str]:
    return (r["apiVersion"].rpartition("/")[0], r["kind"], r["namespace"], r["name"], r["state"])


def _previous_drift(previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The drifted resources the previous report knew of, checked or carried, with their drift_since."""
    out: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    for r in (previous or {}).get("unchecked_drift", []) + (previous or {}).get("resources", []):
        if r.get("drift_since"):
            out[_resource_key(r)] = {k: r[k] for k in ("apiVersion", "kind", "namespace", "name", "state",
                                                       "drift_since")}
    return list(out.values())


def _carry_since(resources: list[dict[str, Any]], previous: dict[str, Any] | None, now: datetime) -> None:
    """Each drifted resource keeps the time its drift (same resource, same state) was first seen, also
    across reports that could not check it (a side unread)."""
    before = {_resource_key(r): r["drift_since"] for r in _previous_drift(previous)}
    for r in resources:
        r["drift_since"] = before.get(_resource_key(r)) or utc_iso(now)


# --- data versions: what decides whether a new materialization is recorded ----------------------

def _digest(value: Any) -> str:
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def desired_version(desired: DesiredState) -> str:
    """Commit plus findings: the same commit read with other limits may give other findings."""
    return _digest({"commit": desired.commit, "findings": [f.as_dict() for f in desired.findings]})


def _live_fingerprint(obj: Obj) -> str:
    meta = obj.get("metadata")
    kept = {k: v for k, v in obj.items() if k not in NON_DESIRED_TOP_LEVEL and k != "metadata"}
    kept["metadata"] = {k: v for k, v in meta.items() if k not in SERVER_METADATA} if isinstance(meta, dict) else meta
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)


def live_version(live: LiveState) -> str:
    """Hash of the live objects without status and what the server writes on its own
    (resourceVersion, managedFields...). Cheaper than normalizing: one JSON dump per object."""
    h = hashlib.sha256()
    for line in sorted(_live_fingerprint(o) for o in live.objects):
        h.update(line.encode())
        h.update(b"\n")
    return _digest({"objects": h.hexdigest(), "findings": [f.as_dict() for f in live.findings],
                    "complete": live.complete})


def rules_version(rules: NormalizeRules) -> str:
    """The user's normalization rules, as a version: other rules may give another comparison."""
    return _digest(repr(rules))


def report_version(report: dict[str, Any]) -> str:
    """A report's content without its timestamp: unchanged drift records nothing new."""
    return _digest({k: v for k, v in report.items() if k != "generated_at"})


def failure_from(exc: BaseException) -> ReadFailure:
    return ReadFailure(str(exc), type(exc).__name__)

