"""The naive Dagster design, for the fleet benchmark's comparison: one run per fabric per tick.

The same asset code, job and schedule as hedgehog_sync.definitions, only with batches of one fabric
(FleetResource.batch_size=1), so every tick asks for one run per due fabric; with the discovery
sensor to keep the partitions, and without the other sensors. Loaded by benchmarks/fleet.py as a
second code location (python_file), never by the product.
"""

from dagster import Definitions

from hedgehog_sync import definitions as product
from hedgehog_sync.defs.resources import FleetResource

# The module, not its `defs`: Dagster refuses a file with two Definitions objects at module scope.
SCHEDULE = "fleet_sync_every_minute"
DISCOVERY = "fabric_discovery"

defs = Definitions(
    assets=list(product.defs.assets or []),
    asset_checks=list(product.defs.asset_checks or []),
    jobs=list(product.defs.jobs or []),
    schedules=[s for s in product.defs.schedules or [] if s.name == SCHEDULE],
    sensors=[s for s in product.defs.sensors or [] if s.name == DISCOVERY],
    resources={**(product.defs.resources or {}), "fleet": FleetResource(batch_size=1)},
)
