"""Building the drift report of one fabric (docs/contracts.md#the-report-json), and the data versions
that decide what to record. The report itself is a typed value (domain/drift_report.py)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from hedgehog_sync.domain.diff import compare, drift_score, max_severity
from hedgehog_sync.domain.drift_report import DriftReport, as_report_json
from hedgehog_sync.domain.model import DesiredState, LiveState, Obj
from hedgehog_sync.domain.normalize import (
    DEFAULT_RULES, NON_DESIRED_TOP_LEVEL, SERVER_METADATA, NormalizeRules,
)
from hedgehog_sync.domain.redaction import safe_url
from hedgehog_sync.domain.vocabulary import (  # noqa: F401  (the statuses: importable from here too)
    CLUSTER_SIDE, DRIFTED, EXTRA, GIT_SIDE, IN_SYNC, IN_SYNC_STATUS, MISSING, MODIFIED, SEVERITY_RANK, UNKNOWN,
)


@dataclass(frozen=True)
class ReportBounds:
    """How large one report may grow, whatever Git or a cluster holds (a 10 MB annotation must not make
    a 10 MB report, event or state row). Past a bound the report says what it left out."""

    value_bytes: int = 4096  # a changed value, serialized; larger ones become preview + sha256 + size
    preview_chars: int = 256
    changes_per_resource: int = 50
    resources: int = 500
    resources_bytes: int = 512 * 1024  # all resource entries together, serialized
    findings: int = 100  # errors, and warnings, each
    text_chars: int = 1000  # a message, commit message or author
    name_chars: int = 300  # a kind, name, namespace, apiVersion or source


DEFAULT_BOUNDS = ReportBounds()


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
    previous: DriftReport | dict[str, Any] | None = None,
    git_failure: ReadFailure | None = None,
    cluster_failure: ReadFailure | None = None,
    rules: NormalizeRules = DEFAULT_RULES,
    git_url: str | None = None,
    bounds: ReportBounds = DEFAULT_BOUNDS,
) -> dict[str, Any]:
    """The report for one fabric as its JSON: build_drift_report(...).to_json(), for callers that
    still read reports as dicts."""
    return build_drift_report(fabric, desired, live, now=now, ref=ref, previous=previous, git_failure=git_failure,
                              cluster_failure=cluster_failure, rules=rules, git_url=git_url,
                              bounds=bounds).to_json()


def build_drift_report(
    fabric: str,
    desired: DesiredState | None,
    live: LiveState | None,
    *,
    now: datetime,
    ref: str,
    previous: DriftReport | dict[str, Any] | None = None,
    git_failure: ReadFailure | None = None,
    cluster_failure: ReadFailure | None = None,
    rules: NormalizeRules = DEFAULT_RULES,
    git_url: str | None = None,
    bounds: ReportBounds = DEFAULT_BOUNDS,
) -> DriftReport:
    """The report for one fabric. A side that is missing or partial makes the status `unknown`.

    The result is strict JSON data of bounded size: values JSON cannot hold (NaN) become strings
    with a warning, oversized values a preview with their sha256, and long lists say what they omit.
    """
    previous = as_report_json(previous)
    errors: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    if git_failure:
        errors.append(git_failure.as_dict(GIT_SIDE))
    if cluster_failure:
        errors.append(cluster_failure.as_dict(CLUSTER_SIDE))
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
    errors.extend(f.as_dict() for f in comparison.findings)

    if desired_partial or live_partial or comparison.findings:
        status = UNKNOWN
    else:
        status = DRIFTED if drifts else IN_SYNC_STATUS

    resources = [d.as_dict() for d in drifts]
    _carry_since(resources, previous, now)
    resources, omitted = _bounded_resources(resources, bounds, warnings)
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
            "message": _cap(desired.commit_message, bounds.text_chars) if desired else None,
            "author": _cap(desired.commit_author, bounds.name_chars) if desired else None,
            "url": safe_url(git_url) if git_url else None,  # never credentials, a query or a fragment
        },
        "cluster": {
            "resources": len(live.objects) if live else None,
            "server": _cap(safe_url(live.server), bounds.name_chars) if live and live.server else None,
        },
        "summary": {state: comparison.counts[state] for state in (IN_SYNC, MODIFIED, MISSING, EXTRA)},
        "score": drift_score(drifts),
        "severity": max_severity(d.severity for d in drifts),
        "drift_since": _fabric_drift_since(status, bool(drifts), previous, now),
        "resources": resources,
        "errors": _bounded_findings(errors, bounds),
        "warnings": _bounded_findings(warnings, bounds),
    }
    if omitted:
        report["resources_omitted"] = omitted
    for key, found in (("errors_omitted", errors), ("warnings_omitted", warnings)):
        if len(found) > bounds.findings:
            report[key] = len(found) - bounds.findings
    if unchecked:
        report["unchecked_drift"] = unchecked[:bounds.resources]
    return DriftReport.from_json(json_safe(report))


# --- strict, bounded JSON ---------------------------------------------------------------------------------

def _cap(text: Any, limit: int) -> Any:
    if not isinstance(text, str) or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def json_safe(value: Any, notes: list[str] | None = None, place: str = "") -> Any:
    """value as strict JSON data: NaN and infinities as the strings "NaN", "Infinity", "-Infinity"
    (each noted), keys as strings, tuples and sets as lists, anything else JSON lacks as its text."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 10 ** 4000 else str(value)[:40] + "…"
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        if notes is not None:
            notes.append(f"{place or 'a value'} is {text}, which JSON cannot hold; shown as the string {text!r}")
        return text
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): json_safe(v, notes, f"{place}/{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [json_safe(v, notes, f"{place}/{i}") for i, v in enumerate(items)]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def report_json(report: DriftReport | dict[str, Any], indent: int | None = None) -> str:
    """The one way a report is serialized: strict JSON (a bare NaN is not JSON), ASCII only."""
    return json.dumps(as_report_json(report), indent=indent, allow_nan=False, ensure_ascii=True)


def _size(value: Any) -> int:
    """Bytes of value as report_json writes it (ASCII, so escapes count)."""
    return len(json.dumps(value, allow_nan=False, ensure_ascii=True, default=str))


def _bounded_value(change: dict[str, Any], side: str, bounds: ReportBounds) -> None:
    if side not in change:
        return
    value = change[side]
    if isinstance(value, (str, int, float, bool)) or value is None:
        # A character serializes to at most 6 bytes (a control character as \u00XX), plus the quotes.
        if not isinstance(value, str) or len(value) * 6 + 2 <= bounds.value_bytes:
            return  # small for sure: no need to serialize it to know
    text = json.dumps(value, allow_nan=False, ensure_ascii=False, sort_keys=True, default=str)
    raw = text.encode()  # the value's own size and digest: UTF-8, as it is stored
    if len(raw) <= bounds.value_bytes:
        return
    change[side] = text[: bounds.preview_chars] + "…"
    change[f"{side}_truncated"] = {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def _bounded_resources(resources: list[dict[str, Any]], bounds: ReportBounds,
                       warnings: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The resource entries within the bounds, the worst kept first, in their original order."""
    notes: list[str] = []
    for r in resources:
        for key in ("apiVersion", "kind", "namespace", "name", "source"):
            r[key] = _cap(r.get(key), bounds.name_chars)
        changes = r.get("changes") or []
        if len(changes) > bounds.changes_per_resource:
            r["changes_omitted"] = len(changes) - bounds.changes_per_resource
            r["changes"] = changes = changes[: bounds.changes_per_resource]
        for c in changes:
            c["path"] = _cap(c.get("path"), bounds.name_chars)
            for side in ("desired", "actual"):
                if side in c:
                    c[side] = json_safe(c[side], notes, f"{c['path']} of {r.get('kind')} {r.get('name')} ({side})")
                _bounded_value(c, side, bounds)
    warnings.extend({"source": "report", "level": "warning", "message": _cap(n, bounds.text_chars)}
                    for n in notes[: bounds.findings])
    order = sorted(range(len(resources)), key=lambda i: -SEVERITY_RANK.get(resources[i].get("severity"), 0))
    kept: set[int] = set()
    used = 0
    for i in order:
        if len(kept) >= bounds.resources:
            break
        size = _size(resources[i])
        if used + size > bounds.resources_bytes and resources[i].get("changes"):
            r = resources[i]
            r["changes_omitted"] = r.get("changes_omitted", 0) + len(r["changes"])
            r["changes"] = []
            size = _size(r)
        if used + size > bounds.resources_bytes:
            continue
        kept.add(i)
        used += size
    return [r for i, r in enumerate(resources) if i in kept], len(resources) - len(kept)


def _bounded_findings(found: list[dict[str, Any]], bounds: ReportBounds) -> list[dict[str, Any]]:
    out = []
    for f in found[: bounds.findings]:
        f = dict(f)
        f["message"] = _cap(str(f.get("message", "")), bounds.text_chars)
        f["source"] = _cap(str(f.get("source", "")), bounds.name_chars)
        out.append(f)
    return out


def _fabric_drift_since(status: str, has_drift: bool, previous: dict[str, Any] | None,
                        now: datetime) -> str | None:
    if not has_drift:
        return None if status == IN_SYNC_STATUS else (previous or {}).get("drift_since")
    carried = (previous or {}).get("drift_since")
    return carried or utc_iso(now)


def _resource_key(r: dict[str, Any]) -> tuple[str, str, str, str, str]:
    return (str(r.get("apiVersion", "")).rpartition("/")[0], str(r.get("kind")), str(r.get("namespace")),
            str(r.get("name")), str(r.get("state")))


def _previous_drift(previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The drifted resources the previous report knew of, checked or carried, with their drift_since."""
    out: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    previous = previous if isinstance(previous, dict) else {}
    for r in list(previous.get("unchecked_drift") or []) + list(previous.get("resources") or []):
        if isinstance(r, dict) and r.get("drift_since"):
            out[_resource_key(r)] = {k: r.get(k) for k in ("apiVersion", "kind", "namespace", "name", "state",
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
    if not isinstance(obj, dict):  # a malformed item still has a fingerprint; compare() names it
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
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


def report_version(report: DriftReport | dict[str, Any]) -> str:
    """A report's content without its timestamp: unchanged drift records nothing new."""
    return _digest({k: v for k, v in as_report_json(report).items() if k != "generated_at"})


def failure_from(exc: BaseException) -> ReadFailure:
    return ReadFailure(str(exc), type(exc).__name__)

