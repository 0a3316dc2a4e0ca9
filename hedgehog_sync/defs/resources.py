"""The fleet resource: where the inventory is, where state is kept, how wide a batch goes."""


import os
from typing import Optional
from urllib.parse import quote

from dagster import ConfigurableResource, DagsterInstance
from pydantic import Field

from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.cycle import FabricReader, PersistentParses
from hedgehog_sync.domain.inventory import Inventory, inventory_path, load_inventory
from hedgehog_sync.domain.limits import GIT_SLOTS, KUBERNETES_SLOTS
from hedgehog_sync.domain.recovery import RecoveryPolicy
from hedgehog_sync.state import StateStore


DEFAULT_UI_URL = "http://127.0.0.1:3000"
UI_URL_ENV = "HEDGEHOG_SYNC_UI_URL"


class FleetResource(ConfigurableResource):
    """Settings shared by every asset, sensor and schedule of the fleet."""

    inventory_path: Optional[str] = Field(
        default=None, description="Inventory file; default $HEDGEHOG_SYNC_INVENTORY, else ./fabrics.yaml")
    batch_size: int = Field(default=100, ge=1, description="Most fabrics in one run")
    workers: int = Field(default=7, ge=1, le=64,
                         description="Fabrics in flight within a run; reads are further limited to "
                                     f"{GIT_SLOTS} at once per run for git and {KUBERNETES_SLOTS} for Kubernetes")
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

    def state_store(self, instance: DagsterInstance) -> StateStore:
        """The fleet's state: tables in the instance's own database (docs/state.md)."""
        return StateStore.for_instance(instance)

    def reader(self, instance: DagsterInstance, store: StateStore | None = None) -> FabricReader:
        """Reads both sides; Git clones go to this process's scratch directory (a cache: the commit
        and parses that let a steady cycle skip work come from the state store). One reader per step:
        one ls-remote and one clone per repository (URL and credentials), shared by its fabrics."""
        return FabricReader(GitRepoCache(share_clones=True), parses=PersistentParses(store or self.state_store(instance)),
                            share_remote_heads=True)
