"""The inventory changed between the two read steps of a run: the compare step names every fabric only
one step read, whichever step it was, and compares the others (the op passes `batch_configs(git,
cluster)` to `sync_batch`). Plain data: the read steps' results as the op receives them."""

from datetime import datetime, timezone

from hedgehog_sync.batch import sync_batch
from hedgehog_sync.cycle import SideRead
from hedgehog_sync.defs.assets import BatchReads, batch_configs
from hedgehog_sync.domain.errors import ClusterUnreachableError, GitUnreachableError
from hedgehog_sync.domain.inventory import FabricConfig
from hedgehog_sync.domain.recovery import RecoveryPolicy

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def config(name: str, ref: str = "main") -> FabricConfig:
    return FabricConfig(name=name, git={"url": f"https://git.example.com/{name}.git", "ref": ref})


def unread(error) -> SideRead:
    return SideRead(value=None, error=error)


def test_a_fabric_only_one_read_step_took_is_named_whichever_step_it_was():
    # "b" left the inventory after the Git step read it; "c" joined before the cluster step.
    git = BatchReads(configs={"a": config("a"), "b": config("b")},
                     reads={"a": unread(GitUnreachableError("down")), "b": unread(GitUnreachableError("down"))})
    cluster = BatchReads(configs={"a": config("a", ref="other"), "c": config("c")},
                         reads={"a": unread(ClusterUnreachableError("down")),
                                "c": unread(ClusterUnreachableError("down"))})

    configs = batch_configs(git, cluster)
    assert list(configs) == ["a", "b", "c"]  # the Git step's order, then what only the cluster step took
    assert configs["a"].git.ref == "main"      # the Git step's config of a fabric both took

    batch = sync_batch(configs, git.reads, cluster.reads, {}, RecoveryPolicy(), "cycle-1", NOW)
    assert batch.not_read_on_both_sides == ["b", "c"]
    assert list(batch.fabrics) == ["a"]
    assert batch.fabrics["a"].outcome.report["status"] == "unknown"  # both sides failed: a result, kept


def test_the_same_fabrics_on_both_sides_name_nothing():
    reads = {"a": unread(GitUnreachableError("down"))}
    git = BatchReads(configs={"a": config("a")}, reads=reads)
    cluster = BatchReads(configs={"a": config("a")}, reads={"a": unread(ClusterUnreachableError("down"))})
    batch = sync_batch(batch_configs(git, cluster), git.reads, cluster.reads, {}, RecoveryPolicy(), "c", NOW)
    assert batch.not_read_on_both_sides == [] and list(batch.fabrics) == ["a"]
