"""The words a report and the fleet are described in, defined once: fabric statuses, resource
states, severities, and which run states count as a sync still in flight.

What each word means is written down in docs/contracts.md ("Drift semantics"); everything else
imports these names rather than spelling the strings again.
"""

from __future__ import annotations

# A fabric's status in its report (docs/contracts.md#fabric-status).
IN_SYNC_STATUS, DRIFTED, UNKNOWN = "in_sync", "drifted", "unknown"
FABRIC_STATUSES = (IN_SYNC_STATUS, DRIFTED, UNKNOWN)
# A fleet row's status before the fabric's first report (never in a report itself).
PENDING = "pending"
ROW_STATUSES = (*FABRIC_STATUSES, PENDING)

# One resource's state in a comparison (docs/contracts.md#resource-states).
IN_SYNC, MODIFIED, MISSING, EXTRA = "in_sync", "modified", "missing", "extra"
STATES = (IN_SYNC, MODIFIED, MISSING, EXTRA)
DRIFT_STATES = (MODIFIED, MISSING, EXTRA)  # the states that are drift

# Severity of a change, a resource and a fabric, least first (docs/contracts.md#severity-and-score).
NONE, LOW, MEDIUM, HIGH, CRITICAL = "none", "low", "medium", "high", "critical"
SEVERITIES = (NONE, LOW, MEDIUM, HIGH, CRITICAL)
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

# Where a report's finding comes from when a whole side failed.
GIT_SIDE, CLUSTER_SIDE = "git", "cluster"

# Dagster run statuses (their names) of a sync run that still holds its fabrics: queued, starting,
# running, or being cancelled (a run being cancelled may still write; scheduling its fabrics again
# would run two cycles of one fabric at once).
IN_FLIGHT_RUN_STATUSES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")


def drifted_count(summary: dict[str, int]) -> int:
    """How many resources differ, from a report's summary (modified + missing + extra)."""
    return sum(int(summary.get(state, 0) or 0) for state in DRIFT_STATES)
