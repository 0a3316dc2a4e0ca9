"""The one Definitions object of the hedgehog-sync code location."""

from dagster import Definitions, in_process_executor

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync, scheduler_metrics_spec
from hedgehog_sync.defs.checks import drift_report_checks, record_freshness_job
from hedgehog_sync.defs.fast_path import urgent_git_changes
from hedgehog_sync.defs.fleet import fleet_summary_spec, fleet_watch
from hedgehog_sync.defs.notifications import drift_notifications
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.defs.schedules import fleet_sync_schedule, sync_fleet_job
from hedgehog_sync.defs.sensors import fabric_discovery

defs = Definitions(
    assets=[fabric_sync, fleet_summary_spec, scheduler_metrics_spec],
    asset_checks=drift_report_checks,
    jobs=[sync_fleet_job, record_freshness_job],
    schedules=[fleet_sync_schedule],
    sensors=[fabric_discovery, urgent_git_changes, fleet_watch, drift_notifications],
    resources={"fleet": FleetResource(), "alerts": AlertSink()},
    # The UI's Materialize runs the implicit asset job: like the schedule's runs, its three steps run
    # in one process, handing the snapshots over in memory (the multiprocess default cannot).
    executor=in_process_executor,
)
