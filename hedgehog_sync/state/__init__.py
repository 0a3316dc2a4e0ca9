"""The fleet's durable state in the Dagster instance's database (docs/state.md)."""

from hedgehog_sync.state.legacy import ImportSummary, import_legacy_once, import_state_dir, read_state_dir
from hedgehog_sync.state.schema import CURRENT_VERSION, StateSchemaError
from hedgehog_sync.state.store import (
    FabricState, FabricWrite, StateStore, StateStoreError, StateStoreUnavailableError, display_url,
)

__all__ = [
    "CURRENT_VERSION", "FabricState", "FabricWrite", "ImportSummary", "StateSchemaError", "StateStore",
    "StateStoreError", "StateStoreUnavailableError", "display_url", "import_legacy_once", "import_state_dir",
    "read_state_dir",
]
