"""Which fabrics go together in one run: contiguous partition-key ranges of bounded size."""

from __future__ import annotations

from typing import Collection, Sequence


def plan_batches(partition_keys: Sequence[str], wanted: Collection[str],
                 batch_size: int) -> list[tuple[str, str]]:
    """Ranges (first, last) over `partition_keys` (in partition order) covering exactly `wanted`.

    A run covers a range of keys, so an unwanted key (disabled, isolated, not due) ends a range.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    wanted_set = set(wanted)
    ranges: list[tuple[str, str]] = []
    start: str | None = None
    last: str | None = None
    size = 0
    for key in partition_keys:
        if key in wanted_set and size < batch_size:
            if start is None:
                start = key
            last, size = key, size + 1
            continue
        if start is not None:
            ranges.append((start, last))  # type: ignore[arg-type]
        start, last, size = (key, key, 1) if key in wanted_set else (None, None, 0)
    if start is not None:
        ranges.append((start, last))  # type: ignore[arg-type]
    return ranges


def batch_size_for_budget(batch_size: int, budget_seconds: float, seconds_per_fabric: float | None,
                          headroom: float = 0.5) -> int:
    """Shrink batches whose estimated time would pass the run's budget (reduce scope).

    `headroom` leaves room for retries and slow fabrics; with no estimate yet, the configured size.
    """
    if not seconds_per_fabric or seconds_per_fabric <= 0:
        return batch_size
    return max(1, min(batch_size, int(budget_seconds * headroom / seconds_per_fabric)))
