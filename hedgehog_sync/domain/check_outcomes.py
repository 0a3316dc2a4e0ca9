"""The verdicts of the drift_report checks, as plain data: a fabric in sync, free of critical drift,
fresh within three cycles, and the fleet's worst (docs/contracts.md#checks).

No Dagster here: defs/checks.py turns a CheckOutcome into Dagster's check results and events.
A severity is "ERROR" or "WARN", the names of Dagster's AssetCheckSeverity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from hedgehog_sync.domain.drift_report import DriftReport, as_report_json
from hedgehog_sync.domain.vocabulary import (
    CLUSTER_SIDE, CRITICAL, DRIFTED, EXTRA, GIT_SIDE, IN_SYNC_STATUS, MISSING, MODIFIED, PENDING, UNKNOWN,
)

# The checks' names, as the Dagster UI shows them.
IN_SYNC_CHECK = "in_sync"
NO_CRITICAL_DRIFT = "no_critical_drift"
REPORT_FRESH = "report_fresh"
FLEET_IN_SYNC = "fleet_in_sync"
FRESH_CYCLES = 3
MAX_NAMED = 20
MAX_CAUSE = 300  # characters of a read error quoted in a check's description
ERROR, WARN = "ERROR", "WARN"


@dataclass(frozen=True)
class CheckOutcome:
    """One check's verdict on one fabric, as plain data."""

    passed: bool
    description: str
    severity: str = ERROR  # ERROR or WARN, as Dagster's AssetCheckSeverity
    metadata: dict[str, Any] = field(default_factory=dict)

    def as_verdict(self, fabric: str | None, check: str = REPORT_FRESH) -> dict[str, Any]:
        """As the record_freshness run takes it: fabric None for the fleet-wide check."""
        return {"check": check, "fabric": fabric, "passed": self.passed, "description": self.description,
                "severity": self.severity, "metadata": self.metadata}


Report = DriftReport | Mapping[str, Any]  # a report, typed or as its JSON (partial JSON is read as far as it goes)


def unknown_cause(report: Report) -> str:
    """Why a fabric's status is unknown, from its report's errors (already redacted), shortened."""
    errors = as_report_json(report).get("errors") or []
    if not errors:
        return "a side was read only partly"
    first = errors[0]
    side = {GIT_SIDE: "Git", CLUSTER_SIDE: "the cluster"}.get(first.get("source"), first.get("source") or "a source")
    cause = f"{side}: {first.get('message') or first.get('error_class') or 'unreadable'}"
    more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
    return (cause[:MAX_CAUSE] + "…" if len(cause) > MAX_CAUSE else cause) + more


def _unknown_outcome(report: Mapping[str, Any], metadata: dict[str, Any]) -> CheckOutcome:
    return CheckOutcome(False, f"{report['fabric']}: status unknown: the cluster/Git could not be read: "
                               f"{unknown_cause(report)}", ERROR, metadata)


def _verdict_metadata(report: Mapping[str, Any]) -> dict[str, Any]:
    s = report.get("summary") or {}
    return {"fabric": report["fabric"], "status": report["status"], "severity": report["severity"],
            "score": float(report["score"]), "modified": int(s.get(MODIFIED, 0)),
            "missing": int(s.get(MISSING, 0)), "extra": int(s.get(EXTRA, 0))}


def in_sync_outcome(report: Report) -> CheckOutcome:
    """Passes only in sync: drift fails with WARN, critical drift and an unknown status with ERROR."""
    report = as_report_json(report)
    metadata = _verdict_metadata(report)
    if report["status"] == UNKNOWN:
        return _unknown_outcome(report, metadata)
    if report["status"] == IN_SYNC_STATUS:
        return CheckOutcome(True, f"{report['fabric']}: in sync with Git", WARN, metadata)
    differ = metadata["modified"] + metadata["missing"] + metadata["extra"]
    severity = ERROR if report["severity"] == CRITICAL else WARN
    return CheckOutcome(False, f"{report['fabric']}: drifted, worst {report['severity']}: {differ} resources differ "
                               f"({metadata['modified']} modified, {metadata['missing']} missing, "
                               f"{metadata['extra']} extra)", severity, metadata)


def critical_drift_outcome(report: Report) -> CheckOutcome:
    """Fails when any drifted resource is critical (a Switch, Connection or VPC missing or extra, ...),
    and when the status is unknown: what could not be read may be critical."""
    report = as_report_json(report)
    critical = [r for r in report["resources"] if r["severity"] == CRITICAL]
    named = [f"{r['kind']} {r['name']} ({r['state']})" for r in critical[:MAX_NAMED]]
    metadata = {**_verdict_metadata(report), "critical_resources": len(critical)}
    if critical:
        more = f" and {len(critical) - MAX_NAMED} more" if len(critical) > MAX_NAMED else ""
        return CheckOutcome(False, f"{report['fabric']}: {len(critical)} critical: {', '.join(named)}{more}",
                            ERROR, {**metadata, "critical": ", ".join(named)})
    if report["status"] == UNKNOWN:
        return _unknown_outcome(report, metadata)
    return CheckOutcome(True, f"{report['fabric']}: no critical drift, worst {report['severity']}", ERROR, metadata)


def fleet_outcome(rows: Iterable[dict[str, Any]]) -> CheckOutcome:
    """The fleet's worst: ERROR while a fabric is unknown or critically drifted, WARN while one is
    drifted, passed when every checked fabric is in sync (pending and disabled ones are not judged)."""
    rows = [r for r in rows if r.get("status") != PENDING and r.get("fresh", True) is not None]
    unknown = sorted(r["fabric"] for r in rows if r["status"] == UNKNOWN)
    critical = sorted(r["fabric"] for r in rows if r["status"] == DRIFTED and r.get("severity") == CRITICAL)
    drifted = sorted(r["fabric"] for r in rows if r["status"] == DRIFTED and r.get("severity") != CRITICAL)
    in_sync = sum(1 for r in rows if r["status"] == IN_SYNC_STATUS)
    metadata = {"fabrics": len(rows), "in_sync": in_sync, "drifted": len(critical) + len(drifted),
                "critical": len(critical), "unknown": len(unknown)}

    def names(found: list[str]) -> str:
        more = f" and {len(found) - MAX_NAMED} more" if len(found) > MAX_NAMED else ""
        return ", ".join(found[:MAX_NAMED]) + more
    parts = [f"{len(unknown)} unknown ({names(unknown)})" if unknown else "",
             f"{len(critical)} critically drifted ({names(critical)})" if critical else "",
             f"{len(drifted)} drifted ({names(drifted)})" if drifted else "",
             f"{in_sync} in sync"]
    text = f"{len(rows)} fabrics: " + "; ".join(p for p in parts if p)
    if unknown or critical:
        return CheckOutcome(False, text, ERROR, metadata)
    if drifted:
        return CheckOutcome(False, text, WARN, metadata)
    return CheckOutcome(True, text, WARN, metadata)


def freshness_outcome(fabric: str, last_checked: datetime | None, interval_seconds: float, now: datetime,
                      since: datetime | None = None, cycles: int = FRESH_CYCLES) -> CheckOutcome:
    """Passes while the fabric's last completed cycle is at most `cycles` refresh intervals old.

    A fabric never checked counts from `since` (when it was first expected), so one that never
    gets a report goes stale too.
    """
    allowed = cycles * interval_seconds
    reference = last_checked or since or now
    age = max(0.0, (now - reference).total_seconds())
    metadata = {"last_checked": last_checked.isoformat() if last_checked else "never",
                "age_s": round(age, 1), "allowed_s": float(allowed), "interval_s": float(interval_seconds)}
    if age <= allowed:
        what = f"checked {age:.0f} s ago" if last_checked else "not checked yet"
        return CheckOutcome(True, f"{fabric}: {what}, within {cycles} cycles ({allowed:.0f} s)", WARN, metadata)
    what = f"last checked {age:.0f} s ago" if last_checked else f"never checked in {age:.0f} s"
    return CheckOutcome(False, f"{fabric}: {what}, more than {cycles} cycles ({allowed:.0f} s): is the "
                               "schedule running and the fabric's run succeeding?", WARN, metadata)
