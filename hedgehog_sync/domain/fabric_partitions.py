"""Which `fabrics` partitions to add and delete so they match the inventory (the discovery
sensor's decision, as plain data)."""

from __future__ import annotations

from hedgehog_sync.domain.inventory import Inventory


def partition_changes(inventory: Inventory, existing: list[str]) -> tuple[list[str], list[str]]:
    """(to add, in inventory order; to delete, sorted). An entry that is present but invalid keeps
    its partition and its history: a typo in the file must not delete a fabric's past."""
    valid = [f.name for f in inventory.fabrics]
    kept = {p.name for p in inventory.problems if p.name} & set(existing)
    wanted = set(valid) | kept
    have = set(existing)
    return [n for n in valid if n not in have], sorted(have - wanted)
