"""The fleet resource: where the inventory is, where state is kept, how wide a batch goes."""


import os
from pathlib import Path
from typing import Optional
from urllib.parse import quote

from dagster import ConfigurableResource, DagsterInstance
from pydantic import Field

from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.cycle import FabricReader, PersistentParses
from hedgehog_sync.domain.inventory import Inventory, inventory_path, load_inventory
from hedgehog_sync.domain.recovery import RecoveryPolicy
from hedgehog_sync.store import MetricsStore, ReportStore


DEFAULT_UI_URL = "http://127.0.0.1:3000"
UI_URL_ENV = "HEDGEHOG_SYNC_UI_URL"


class FleetResource(ConfigurableResource):
    """Settings shared by every asset, sensor and schedule of the fleet."""

    inventory_path: Optional[str] = Field(
        default=None, description="Inventory file; default $HEDGEHOG_SYNC_INVENTORY, else ./fabrics.yaml")
    state_dir: Optional[str] = Field(
        default=None, description="Git caches and reports; default $HEDGEHOG_SYNC_STATE_DIR, "
                                  "else <instance storage>/hedgehog_sync")
    batch_size: int = Field(default=100, ge=1, description="Most fabrics in one run")
    workers: int = Field(default=7, ge=1, le=64,
                         description="Fabrics in flight within a run; reads are further limited to "
                                     "4 at once per run for git and 3 for Kubernetes")
    isolate_after: int = Field(default=5, ge=1, description="Failed cycles in a row that isolate a fabric")
    run_budget_seconds: int = Field(default=300, ge=30,
                                    description="Time budget of one sync run (dagster/max_runtime); "
                                                "batches are split to fit it")
    ui_url: Optional[str] = Field(
        default=None, description="Where operators open the Dagster UI, for links to each fabric's report; "
                                  f"default $HEDGEHOG_SYNC_UI_URL, else {DEFAULT_UI_URL}")

    def ui_base_url(self) -> str:
        return (self.ui_url or os.environ.get(UI_URL_ENV) or DEFAULT_UI_URL).rstrip("/")

    def report_url(self, fabric: str) -> str:
        """The fabric's drift_report partition page in the Dagster UI (its latest report)."""
        return f"{self.ui_base_url()}/assets/drift_report?view=partitions&partition={quote(fabric, safe='')}"

    def recovery_policy(self) -> RecoveryPolicy:
        return RecoveryPolicy(isolate_after=self.isolate_after)

    def inventory_file(self) -> str:
        return inventory_path(self.inventory_path)

    def load_inventory(self) -> Inventory:
        return load_inventory(self.inventory_file())

    def state_root(self, instance: DagsterInstance) -> Path:
        explicit = self.state_dir or os.environ.get("HEDGEHOG_SYNC_STATE_DIR")
        return Path(explicit) if explicit else Path(instance.storage_directory()) / "hedgehog_sync"

    def report_store(self, instance: DagsterInstance) -> ReportStore:
        return ReportStore(self.state_root(instance) / "reports")

    def metrics_store(self, instance: DagsterInstance) -> MetricsStore:
        return MetricsStore(self.state_root(instance) / "metrics.json")

    def fleet_rows(self, instance: DagsterInstance) -> MetricsStore:
        """One summary row per fabric, kept by the sync runs for the fleet_watch sensor. A JSON
        document updated under a lock, exactly what MetricsStore is (its name says what it first held)."""
        return MetricsStore(self.state_root(instance) / "fleet-rows.json")

    def reader(self, instance: DagsterInstance) -> FabricReader:
        return FabricReader(GitRepoCache(self.state_root(instance) / "git"),
                            parses=PersistentParses(self.report_store(instance)))
