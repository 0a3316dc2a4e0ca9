"""Which fabrics go together in one run: contiguous partition-key ranges of bounded size."""

from __future__ import annotations

from typing import Collection, Sequence


def plan_batches(partition_keys: Sequence[str], wanted: Collection[str],
                 batch_size: int, fill: Collection[str] = ()) -> list[tuple[str, str]]:
    """Ranges (first, last) over `partition_keys` (in partition order) covering every `wanted` key.

    A run covers a range of keys, so a key that is neither wanted nor in `fill` (disabled,
    isolated, in another run, of another priority) ends a range. Keys in `fill` (fabrics that may
    be checked a little early) do not: they ride along inside a range, never at its ends, so that
    due fabrics scattered between recently checked ones still make few runs, and the fleet falls
    back into step instead of splitting into ever smaller runs.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    wanted_set, fill_set = set(wanted), set(fill) - set(wanted)
    ranges: list[tuple[str, str]] = []
    current: list[str] = []  # the open range, wanted at its start, maybe fill at its end

    def close() -> None:
        while current and current[-1] not in wanted_set:
            current.pop()  # a range never ends on a fill key
        if current:
            ranges.append((current[0], current[-1]))
        current.clear()

    for key in partition_keys:
        if key in wanted_set:
            if len(current) >= batch_size:
                close()
            current.append(key)
        elif key in fill_set and current:
            if len(current) >= batch_size:
                close()
            else:
                current.append(key)
        else:
            close()
    close()
    return ranges


def batch_size_for_budget(batch_size: int, budget_seconds: float, seconds_per_fabric: float | None,
                          headroom: float = 0.5) -> int:
    """Shrink batches whose estimated time would pass the run's budget (reduce scope).

    `headroom` leaves room for retries and slow fabrics; with no estimate yet, the configured size.
    """
    if not seconds_per_fabric or seconds_per_fabric <= 0:
        return batch_size
    return max(1, min(batch_size, int(budget_seconds * headroom / seconds_per_fabric)))


MIN_FABRICS_FOR_ESTIMATE = 10


def seconds_per_fabric(metrics: dict | None) -> float | None:
    """Recent cost of one fabric in a run, from the scheduler metrics; None before any run.

    Only runs of at least MIN_FABRICS_FOR_ESTIMATE fabrics count: in a run of one fabric the run's
    own start dominates, and shrinking batches by that would make runs smaller still, each slower
    per fabric than the last (a spiral that ends in one run per fabric)."""
    recent = [r for r in (metrics or {}).get("recent") or [] if r["checked"] >= MIN_FABRICS_FOR_ESTIMATE]
    checked = sum(r["checked"] for r in recent)
    return sum(r["duration_s"] for r in recent) / checked if checked else None
