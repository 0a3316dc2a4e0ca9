"""A fabric's history of cycles, as recovery and the health score read it: one frozen record per
fabric that round-trips through JSON. Folding a cycle into it is recovery's job (domain/recovery.py);
scoring it is health's (domain/health.py); this module only holds the record, so both import it
and neither imports the other's internals lazily.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from hedgehog_sync.domain.vocabulary import FABRIC_STATUSES


@dataclass(frozen=True)
class FabricHealthRecord:
    """Everything recovery and health need to know about a fabric's past cycles; JSON round-trips
    through to_dict/from_dict. Times are ISO-8601 UTC strings (`2026-11-28T12:00:00Z`).

    Observations (file_errors, drift_score, agents_*) are those of the last cycle that read both
    sides: a failed read sees no files and no drift, which must not look like an improvement.
    """

    consecutive_failures: int = 0
    total_cycles: int = 0
    failed_cycles: int = 0
    recent_failed: tuple[bool, ...] = ()  # the last policy.window cycles, oldest first, True = failed
    last_status: str | None = None  # in_sync | drifted | unknown; None before the first cycle
    last_cycle_at: str | None = None
    last_good_sync: str | None = None  # last cycle whose status was in_sync or drifted
    cluster_reachable: bool | None = None  # was the live state read in the last cycle
    file_errors: int = 0
    drift_score: float = 0.0
    agents_total: int | None = None
    agents_converged: int | None = None
    isolated: bool = False
    isolated_since: str | None = None
    escalated: bool = False
    escalated_since: str | None = None
    healthy_streak: int = 0  # cycles in a row that read both sides with health at or above the threshold
    last_error_class: str | None = None
    last_error: str | None = None  # the error's (redacted) message, shortened
    # The cycle last folded in (a run's root run id): a run retry of the same cycle replaces that
    # cycle's outcome instead of counting as one more, so isolation counts cycles, not attempts.
    last_cycle_id: str | None = None
    # A digest of the fabric's settings and credentials as last tried (never the secrets: a hash of
    # them among other things). An isolated fabric whose settings changed is probed again at once.
    config_fingerprint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["recent_failed"] = list(self.recent_failed)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FabricHealthRecord":
        """Unknown keys (written by a newer version) are ignored and missing keys take defaults;
        a value of the wrong type raises ValueError, so the caller can start the fabric afresh."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        try:
            for name in ("consecutive_failures", "total_cycles", "failed_cycles", "file_errors",
                         "healthy_streak"):
                if name in values:
                    values[name] = int(values[name])
            for name in ("agents_total", "agents_converged"):
                if values.get(name) is not None:
                    values[name] = int(values[name])
            if "drift_score" in values:
                values["drift_score"] = float(values["drift_score"])
            if "recent_failed" in values:
                values["recent_failed"] = tuple(bool(x) for x in values["recent_failed"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"stored fabric health record is malformed: {exc}") from None
        if values.get("last_status") not in (None, *FABRIC_STATUSES):
            raise ValueError(f"stored fabric health record has unknown status {values['last_status']!r}")
        return cls(**values)

    @property
    def failure_rate(self) -> float:
        """Failed share of the recent window; 0.0 before the first cycle."""
        return sum(self.recent_failed) / len(self.recent_failed) if self.recent_failed else 0.0


