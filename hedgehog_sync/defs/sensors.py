"""Discovery: keep the `fabrics` partitions in step with the inventory, adding and deleting only the difference."""


from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from hedgehog_sync.defs.partitions import FABRICS_PARTITION, fabrics
from hedgehog_sync.defs.pools import ensure_pool_limits
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.fabric_partitions import partition_changes


@sensor(
    name="fabric_discovery",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Reads the fabric inventory and adds or deletes `fabrics` partitions to match. "
                "Deleting a partition keeps its materialization history. Also sets the limits of "
                "the `git` and `kubernetes` pools where none is set.",
)
def fabric_discovery(context: SensorEvaluationContext, fleet: FleetResource):
    for pool, limit in ensure_pool_limits(context.instance).items():
        context.log.info(f"pool {pool}: limit set to {limit} (change it in Deployment > Concurrency)")
    try:
        inventory = fleet.load_inventory()
    except InventoryError as exc:
        # Never delete partitions because the file is unreadable: that would drop the whole fleet.
        context.log.error(str(exc))
        return SkipReason(f"inventory unusable, partitions left as they are: {exc}")
    for problem in inventory.problems:
        context.log.error(f"inventory problem: {problem}")
    existing = context.instance.get_dynamic_partitions(FABRICS_PARTITION)
    add, delete = partition_changes(inventory, existing)
    requests = []
    if add:
        requests.append(fabrics.build_add_request(add))
    if delete:
        requests.append(fabrics.build_delete_request(delete))
    if not requests:
        note = f"{len(existing)} fabrics, in step with {inventory.path}"
        if inventory.problems:
            note += f"; {len(inventory.problems)} inventory problems (see the tick's logs)"
        return SkipReason(note)
    context.log.info(f"adding {add}, deleting {delete}")
    return SensorResult(dynamic_partitions_requests=requests)
