"""Fault rules: failures injected in front of chosen requests (shared with the devlab git server)."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar


@dataclass
class FaultRule:
    """A failure injected in front of the requests it matches, like a misbehaving server or proxy."""

    path: str = ""  # regex searched in the request path (with its /fabrics/<fabric> prefix); "" = any
    methods: tuple[str, ...] = ()  # e.g. ("GET",); () = any
    query: str = ""  # regex searched in the raw query string, e.g. "continue="
    status: int | None = None  # answer this status (a Kubernetes Status body) instead of serving
    retry_after: float | str | None = None  # Retry-After header sent with `status`
    latency: float = 0.0  # seconds to wait before answering
    # "truncate": cut the JSON body in half; "drop": close without a body; "garbage": answer a body
    # that is not JSON (a proxy's HTML error page) as application/json; "expire-if-changed": answer
    # 410 Expired to a continue token whose snapshot is older than the fabric's objects, as etcd
    # does once the revision is compacted (real servers never mix two snapshots in one list)
    action: str | None = None
    times: int | None = None  # apply to the first N matching requests only; None = always
    # called (in the server's thread) when the rule is applied: e.g. change objects between pages
    on_apply: Callable[[], None] | None = None
    # apply to this fraction of the matching requests, at random (the soak's background faults)
    probability: float = 1.0
    hits: int = field(default=0, init=False)  # how many requests it has been applied to

    def matches(self, method: str, path: str, query: str) -> bool:
        return (
            (not self.methods or method in self.methods)
            and (not self.path or re.search(self.path, path) is not None)
            and (not self.query or re.search(self.query, query) is not None)
            and (self.times is None or self.hits < self.times)
            and (self.probability >= 1.0 or _fault_rng.random() < self.probability)
        )


_fault_rng = random.Random()


def seed_faults(seed: int | None) -> None:
    """Make the random choices of `probability` rules repeatable."""
    _fault_rng.seed(seed)


class _Rule(Protocol):
    hits: int

    def matches(self, *request: str) -> bool: ...


Rule = TypeVar("Rule", bound=_Rule)


class RuleList(Generic[Rule]):
    """Fault rules a loopback server consults per request; the first matching rule applies.

    One list for both devlab servers: the API server's `FaultRules` (rules matched on method, path
    and query) and the git server's `GitFaults` (matched on path).
    """

    rule_type: type  # what add(**fields) builds

    def __init__(self, rules: Iterable[Rule] = ()):
        self._rules = list(rules)
        self._lock = threading.Lock()

    def add(self, rule: Rule | None = None, **fields: Any) -> Rule:
        """Add a rule (or build one from keyword fields) and return it, so tests can read `hits`."""
        added = rule if rule is not None else self.rule_type(**fields)
        with self._lock:
            self._rules.append(added)
        return added

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, *request: str) -> Rule | None:
        """The rule for this request, counting it as applied."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(*request):
                    rule.hits += 1
                    return rule
        return None


class FaultRules(RuleList[FaultRule]):
    """The fault rules an API server consults per request (method, path, raw query string)."""

    rule_type = FaultRule
