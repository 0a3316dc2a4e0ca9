"""Prometheus metrics of the fleet (`hedgehog-sync exporter`): read at each scrape from the state store
and the Dagster instance, so a scrape costs a few small reads and never a run.

Per fabric the rows are exactly the fleet summary's (defs/fleet.fleet_now), so the two agree; the
report counts and ages come from the stored reports and health records; per fleet the scheduler
metrics the sync runs keep (in the state store) and the queue of sync_fleet runs from the instance.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Iterable, Optional

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from hedgehog_sync.defs.fleet import fleet_now
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.domain.health import parse_time
from hedgehog_sync.domain.inventory import PRIORITY_RANK
from hedgehog_sync.domain.redaction import redact
from hedgehog_sync.domain.vocabulary import DRIFT_STATES, PENDING, ROW_STATUSES, SEVERITY_RANK

SYNC_JOB = "sync_fleet"  # defs/schedules.sync_fleet_job's name
STATUSES = ROW_STATUSES
log = logging.getLogger("hedgehog_sync.exporter")


def _age(then: Optional[str], now: datetime) -> Optional[float]:
    moment = parse_time(then)
    return None if moment is None else max((now - moment).total_seconds(), 0.0)


class FleetCollector:
    """A prometheus_client collector: every scrape reads the fleet afresh."""

    def __init__(self, instance: DagsterInstance, fleet: FleetResource):
        self.instance, self.fleet = instance, fleet

    def describe(self) -> Iterable[Metric]:
        return []  # the fabrics are only known at scrape time

    def collect(self) -> Iterable[Metric]:
        now = datetime.now(timezone.utc)
        up = GaugeMetricFamily("hedgehog_sync_exporter_read_ok",
                               "1 when the fleet's state could be read at this scrape")
        try:
            metrics = list(self.fabric_metrics(now)) + list(self.fleet_metrics())
        except Exception as exc:  # a scrape says it failed; it never crashes the exporter
            log.warning(f"reading the fleet's state failed ({type(exc).__name__}): {redact(str(exc))[:300]}")
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return metrics + [up]

    def fabric_metrics(self, now: datetime) -> Iterable[Metric]:
        rows = fleet_now(self.instance, self.fleet)
        stored = self.fleet.state_store(self.instance).load(  # one query for the fleet
            [row["fabric"] for row in rows if row["status"] != PENDING])
        g = GaugeMetricFamily
        info = g("hedgehog_sync_fabric_info", "A fabric of the inventory: its configured and effective priority",
                 labels=["fabric", "priority", "effective_priority"])
        status = g("hedgehog_sync_fabric_status", "1 for the fabric's current status, 0 for the others",
                   labels=["fabric", "status"])
        severity = g("hedgehog_sync_fabric_drift_severity",
                     "Worst drift severity: 0 none, 1 low, 2 medium, 3 high, 4 critical", labels=["fabric"])
        score = g("hedgehog_sync_fabric_drift_score", "Drift score of the latest report (0..1)", labels=["fabric"])
        differ = g("hedgehog_sync_fabric_drifted_resources", "Resources that differ in the latest report, by state",
                   labels=["fabric", "state"])
        health = g("hedgehog_sync_fabric_health_ratio", "Health score (0..1); below 0.5 escalates",
                   labels=["fabric"])
        priority = g("hedgehog_sync_fabric_priority_rank",
                     "Configured priority: 1 critical, 2 high, 3 medium, 4 low, 5 maintenance", labels=["fabric"])
        isolated = g("hedgehog_sync_fabric_isolated", "1 when the fabric is isolated after failed cycles",
                     labels=["fabric"])
        stale = g("hedgehog_sync_fabric_stale", "1 when no report came within 3 of the fabric's intervals",
                  labels=["fabric"])
        report_age = g("hedgehog_sync_fabric_last_report_age_seconds", "Seconds since the fabric's last cycle",
                       labels=["fabric"])
        good_age = g("hedgehog_sync_fabric_last_good_report_age_seconds",
                     "Seconds since the fabric's last cycle that read both sides (in_sync or drifted)",
                     labels=["fabric"])
        for row in rows:
            name = row["fabric"]
            info.add_metric([name, row["priority"], row["effective_priority"]], 1)
            for s in STATUSES:
                status.add_metric([name, s], 1 if row["status"] == s else 0)
            severity.add_metric([name], SEVERITY_RANK.get(row["severity"], 0))
            score.add_metric([name], float(row["score"]))
            priority.add_metric([name], PRIORITY_RANK.get(row["priority"], 0))
            isolated.add_metric([name], 1 if row["isolated"] else 0)
            if row.get("fresh") is not None:
                stale.add_metric([name], 0 if row["fresh"] else 1)
            if row.get("health") is not None:
                health.add_metric([name], float(row["health"]))
            if row["status"] == PENDING:
                continue
            summary = (stored[name].report or {}).get("summary") or {}
            for state in DRIFT_STATES:
                differ.add_metric([name, state], int(summary.get(state) or 0))
            record = stored[name].health
            for family, then in ((report_age, row.get("last_cycle_at") or record.last_cycle_at),
                                 (good_age, record.last_good_sync)):
                age = _age(then, now)
                if age is not None:
                    family.add_metric([name], age)
        return [info, status, severity, score, differ, health, priority, isolated, stale, report_age, good_age]

    def fleet_metrics(self) -> Iterable[Metric]:
        m: dict[str, Any] = self.fleet.state_store(self.instance).metrics() or {}
        last = m.get("last_run") or {}
        out: list[Metric] = []
        for name, doc, value in (
            ("hedgehog_sync_runs", "Sync runs recorded since the metrics were last reset", m.get("runs_total")),
            ("hedgehog_sync_fabric_checks", "Fabric checks (one fabric in one run)", m.get("fabrics_checked_total")),
            ("hedgehog_sync_fabric_check_failures",
             "Fabric checks that could not read or compare the fabric (unknown)", m.get("fabrics_failed_total")),
        ):
            out.append(CounterMetricFamily(name, doc, value=int(value or 0)))
        for name, doc, value in (
            ("hedgehog_sync_last_run_duration_seconds", "Duration of the last sync run (the fleet's cycle)",
             last.get("duration_s")),
            ("hedgehog_sync_run_duration_mean_seconds", "Mean duration of the recent sync runs",
             m.get("mean_duration_s")),
            ("hedgehog_sync_run_queue_wait_mean_seconds", "Mean time the recent sync runs waited in the queue",
             m.get("mean_queue_wait_s")),
            ("hedgehog_sync_fabric_check_success_ratio", "Share of recent fabric checks that read both sides",
             m.get("fabric_check_success_rate")),
        ):
            if value is not None:
                out.append(GaugeMetricFamily(name, doc, value=float(value)))
        queued = self.instance.get_runs_count(RunsFilter(job_name=SYNC_JOB, statuses=[DagsterRunStatus.QUEUED]))
        failed = self.instance.get_runs_count(RunsFilter(job_name=SYNC_JOB, statuses=[DagsterRunStatus.FAILURE]))
        out.append(GaugeMetricFamily("hedgehog_sync_queued_runs", "sync_fleet runs waiting in the run queue",
                                     value=queued))
        out.append(GaugeMetricFamily("hedgehog_sync_failed_runs",
                                     "sync_fleet runs that failed, among the runs the instance keeps", value=failed))
        return out


def registry_for(instance: DagsterInstance, fleet: FleetResource) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(instance, fleet))  # type: ignore[arg-type]
    return registry
