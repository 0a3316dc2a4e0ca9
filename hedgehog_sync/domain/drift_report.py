"""The drift report of one fabric as a typed value, with exactly one JSON form.

`DriftReport.from_json(data)` reads the report JSON (docs/contracts.md#the-report-json) and
`.to_json()` writes it back: the same keys, optional keys present exactly when they were, values
unchanged, and keys in the order this version writes them. Keys a newer version may add (the
contract allows new keys) are kept as they came and written after the known ones, so reading and
writing a report never loses anything.

An optional key that is absent is `ABSENT`, never None: None is a value the JSON holds (`null`),
and a report that says `"url": null` is not the same document as one without `url`.
Plain types only: nothing here knows Dagster, storage or rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from hedgehog_sync.domain.vocabulary import CRITICAL, DRIFTED, IN_SYNC_STATUS, UNKNOWN, drifted_count


class _Absent:
    """The marker of an optional key the JSON does not have."""

    _instance: "_Absent | None" = None

    def __new__(cls) -> "_Absent":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()

Other = tuple[tuple[str, Any], ...]  # keys this version does not know, in the order they came


class ReportFormatError(ValueError):
    """The data is not a drift report: a required key is missing or a part has the wrong shape."""


def copy_json(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars): a report never shares a mutable value
    with the dict it was read from or written to."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def _mapping(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ReportFormatError(f"{where} must be an object, not {type(data).__name__}")
    return data


def _list(data: Any, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise ReportFormatError(f"{where} must be a list, not {type(data).__name__}")
    return data


def _required(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise ReportFormatError(f"{where} lacks {key!r}")
    return copy_json(data[key])


def _optional(data: Mapping[str, Any], key: str) -> Any:
    return copy_json(data[key]) if key in data else ABSENT


def _other(data: Mapping[str, Any], known: Iterable[str]) -> Other:
    known = set(known)
    return tuple((k, copy_json(v)) for k, v in data.items() if k not in known)


def _write(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not ABSENT:
        out[key] = copy_json(value)


def _finish(out: dict[str, Any], other: Other) -> dict[str, Any]:
    for key, value in other:
        out.setdefault(key, copy_json(value))
    return out


# --- a change, a resource -------------------------------------------------------------------------

@dataclass(frozen=True)
class ValueDigest:
    """What stands for a changed value too large for the report: its serialized size and sha256."""

    bytes: int
    sha256: str
    other: Other = ()

    KEYS = ("bytes", "sha256")

    @classmethod
    def from_json(cls, data: Any, where: str = "value digest") -> "ValueDigest":
        data = _mapping(data, where)
        return cls(_required(data, "bytes", where), _required(data, "sha256", where), _other(data, cls.KEYS))

    def to_json(self) -> dict[str, Any]:
        return _finish({"bytes": self.bytes, "sha256": self.sha256}, self.other)


@dataclass(frozen=True)
class ChangeEntry:
    """One changed field of a modified resource: an RFC 6902 style operation with both sides.
    `add` has no desired value and `remove` no actual one (ABSENT)."""

    op: str  # replace | add | remove
    path: str  # JSON pointer (RFC 6901), as the user wrote the field
    severity: str
    desired: Any = ABSENT
    actual: Any = ABSENT
    desired_truncated: ValueDigest | Any = ABSENT  # set when `desired` is only a preview
    actual_truncated: ValueDigest | Any = ABSENT
    other: Other = ()

    KEYS = ("op", "path", "desired", "actual", "severity", "desired_truncated", "actual_truncated")

    @classmethod
    def from_json(cls, data: Any, where: str = "change") -> "ChangeEntry":
        data = _mapping(data, where)
        digests = {side: (ValueDigest.from_json(data[f"{side}_truncated"], f"{where}.{side}_truncated")
                          if f"{side}_truncated" in data else ABSENT) for side in ("desired", "actual")}
        return cls(op=_required(data, "op", where), path=_required(data, "path", where),
                   severity=_required(data, "severity", where), desired=_optional(data, "desired"),
                   actual=_optional(data, "actual"), desired_truncated=digests["desired"],
                   actual_truncated=digests["actual"], other=_other(data, cls.KEYS))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "path": self.path}
        _write(out, "desired", self.desired)
        _write(out, "actual", self.actual)
        out["severity"] = self.severity
        for key, digest in (("desired_truncated", self.desired_truncated),
                            ("actual_truncated", self.actual_truncated)):
            if digest is not ABSENT:
                out[key] = digest.to_json()
        return _finish(out, self.other)


@dataclass(frozen=True)
class ResourceEntry:
    """One drifted resource: its identity, state (modified, missing, extra), worst severity, its
    changes (modified only), where Git holds it, and since when this drift is seen."""

    api_version: str
    kind: str
    namespace: str
    name: str
    state: str
    severity: str
    changes: tuple[ChangeEntry, ...] = ()
    source: str | None | Any = ABSENT  # "path/in/repo.yaml#3"; null when Git does not hold it
    drift_since: str | None | Any = ABSENT
    changes_omitted: int | Any = ABSENT  # changes left out to keep the report bounded
    other: Other = ()

    KEYS = ("apiVersion", "kind", "namespace", "name", "state", "severity", "changes", "source", "drift_since",
            "changes_omitted")

    @classmethod
    def from_json(cls, data: Any, where: str = "resource") -> "ResourceEntry":
        data = _mapping(data, where)
        changes = tuple(ChangeEntry.from_json(c, f"{where}.changes[{i}]")
                        for i, c in enumerate(_list(data.get("changes", []), f"{where}.changes")))
        return cls(api_version=_required(data, "apiVersion", where), kind=_required(data, "kind", where),
                   namespace=_required(data, "namespace", where), name=_required(data, "name", where),
                   state=_required(data, "state", where), severity=_required(data, "severity", where),
                   changes=changes, source=_optional(data, "source"), drift_since=_optional(data, "drift_since"),
                   changes_omitted=_optional(data, "changes_omitted"), other=_other(data, cls.KEYS))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "apiVersion": self.api_version, "kind": self.kind, "namespace": self.namespace, "name": self.name,
            "state": self.state, "severity": self.severity, "changes": [c.to_json() for c in self.changes],
        }
        _write(out, "source", self.source)
        _write(out, "drift_since", self.drift_since)
        _write(out, "changes_omitted", self.changes_omitted)
        return _finish(out, self.other)


@dataclass(frozen=True)
class UncheckedDrift:
    """Drift an earlier report saw that this one could not check (a side unread), kept with the
    time it was first seen so the report that can check it again keeps that time."""

    api_version: Any
    kind: Any
    namespace: Any
    name: Any
    state: Any
    drift_since: Any
    other: Other = ()

    KEYS = ("apiVersion", "kind", "namespace", "name", "state", "drift_since")

    @classmethod
    def from_json(cls, data: Any, where: str = "unchecked drift") -> "UncheckedDrift":
        data = _mapping(data, where)
        return cls(*(_required(data, key, where) for key in cls.KEYS), other=_other(data, cls.KEYS))

    def to_json(self) -> dict[str, Any]:
        values = (self.api_version, self.kind, self.namespace, self.name, self.state, self.drift_since)
        return _finish({key: copy_json(v) for key, v in zip(self.KEYS, values)}, self.other)


# --- findings, sides, summary -------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportFinding:
    """An error or warning of the report: where (a file, `cluster:<plural>`, `git`, `cluster`,
    `report`), its level, what; the document number in its file, or the error class of a side
    that could not be read at all, when known."""

    source: str
    level: str
    message: str
    document: int | Any = ABSENT
    error_class: str | Any = ABSENT
    other: Other = ()

    KEYS = ("source", "level", "message", "document", "error_class")

    @classmethod
    def from_json(cls, data: Any, where: str = "finding") -> "ReportFinding":
        data = _mapping(data, where)
        return cls(source=_required(data, "source", where), level=_required(data, "level", where),
                   message=_required(data, "message", where), document=_optional(data, "document"),
                   error_class=_optional(data, "error_class"), other=_other(data, cls.KEYS))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "level": self.level, "message": self.message}
        _write(out, "document", self.document)
        _write(out, "error_class", self.error_class)
        return _finish(out, self.other)


@dataclass(frozen=True)
class GitSide:
    """What was read from Git: the commit (null when Git could not be read), the ref asked for, how
    many resources it holds, the commit's message and author, and the repository URL (without
    credentials, query or fragment)."""

    commit: str | None
    ref: str | None
    resources: int | None
    message: str | None | Any = ABSENT
    author: str | None | Any = ABSENT
    url: str | None | Any = ABSENT
    other: Other = ()

    KEYS = ("commit", "ref", "resources", "message", "author", "url")

    @classmethod
    def from_json(cls, data: Any, where: str = "git") -> "GitSide":
        data = _mapping(data, where)
        return cls(commit=_required(data, "commit", where), ref=_required(data, "ref", where),
                   resources=_required(data, "resources", where), message=_optional(data, "message"),
                   author=_optional(data, "author"), url=_optional(data, "url"), other=_other(data, cls.KEYS))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"commit": self.commit, "ref": self.ref, "resources": self.resources}
        _write(out, "message", self.message)
        _write(out, "author", self.author)
        _write(out, "url", self.url)
        return _finish(out, self.other)


@dataclass(frozen=True)
class ClusterSide:
    """What was read from the fabric's API server: how many objects (null when unread) and its URL."""

    resources: int | None
    server: str | None
    other: Other = ()

    KEYS = ("resources", "server")

    @classmethod
    def from_json(cls, data: Any, where: str = "cluster") -> "ClusterSide":
        data = _mapping(data, where)
        return cls(_required(data, "resources", where), _required(data, "server", where), _other(data, cls.KEYS))

    def to_json(self) -> dict[str, Any]:
        return _finish({"resources": self.resources, "server": self.server}, self.other)


@dataclass(frozen=True)
class DriftSummary:
    """How many resources are in each state."""

    in_sync: int
    modified: int
    missing: int
    extra: int
    other: Other = ()

    KEYS = ("in_sync", "modified", "missing", "extra")

    @classmethod
    def from_json(cls, data: Any, where: str = "summary") -> "DriftSummary":
        data = _mapping(data, where)
        return cls(*(_required(data, key, where) for key in cls.KEYS), other=_other(data, cls.KEYS))

    def to_json(self) -> dict[str, Any]:
        return _finish({"in_sync": self.in_sync, "modified": self.modified, "missing": self.missing,
                        "extra": self.extra}, self.other)

    @property
    def differ(self) -> int:
        """Resources that differ: modified + missing + extra."""
        return drifted_count(self.to_json())


# --- the report -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DriftReport:
    """A fabric's drift report. See docs/contracts.md#the-report-json for every field."""

    fabric: str
    status: str  # in_sync | drifted | unknown
    generated_at: str  # ISO-8601 UTC, whole seconds, `Z`
    git: GitSide
    cluster: ClusterSide
    summary: DriftSummary
    score: float
    severity: str
    drift_since: str | None
    resources: tuple[ResourceEntry, ...] = ()
    errors: tuple[ReportFinding, ...] = ()
    warnings: tuple[ReportFinding, ...] | Any = ()  # ABSENT only in reports older than warnings
    resources_omitted: int | Any = ABSENT
    errors_omitted: int | Any = ABSENT
    warnings_omitted: int | Any = ABSENT
    unchecked_drift: tuple[UncheckedDrift, ...] | Any = ABSENT
    other: Other = field(default=())

    KEYS = ("fabric", "status", "generated_at", "git", "cluster", "summary", "score", "severity", "drift_since",
            "resources", "errors", "warnings", "resources_omitted", "errors_omitted", "warnings_omitted",
            "unchecked_drift")

    @classmethod
    def from_json(cls, data: Any) -> "DriftReport":
        """The report the JSON data holds; ReportFormatError when it is not one."""
        data = _mapping(data, "report")

        def findings(key: str) -> tuple[ReportFinding, ...]:
            return tuple(ReportFinding.from_json(f, f"{key}[{i}]") for i, f in enumerate(_list(data[key], key)))

        for key in ("git", "cluster", "summary", "resources", "errors"):
            if key not in data:
                raise ReportFormatError(f"report lacks {key!r}")
        unchecked = ABSENT
        if "unchecked_drift" in data:
            unchecked = tuple(UncheckedDrift.from_json(r, f"unchecked_drift[{i}]")
                              for i, r in enumerate(_list(data["unchecked_drift"], "unchecked_drift")))
        return cls(
            fabric=_required(data, "fabric", "report"), status=_required(data, "status", "report"),
            generated_at=_required(data, "generated_at", "report"), git=GitSide.from_json(data["git"]),
            cluster=ClusterSide.from_json(data["cluster"]), summary=DriftSummary.from_json(data["summary"]),
            score=_required(data, "score", "report"), severity=_required(data, "severity", "report"),
            drift_since=_required(data, "drift_since", "report"),
            resources=tuple(ResourceEntry.from_json(r, f"resources[{i}]")
                            for i, r in enumerate(_list(data["resources"], "resources"))),
            errors=findings("errors"), warnings=findings("warnings") if "warnings" in data else ABSENT,
            resources_omitted=_optional(data, "resources_omitted"), errors_omitted=_optional(data, "errors_omitted"),
            warnings_omitted=_optional(data, "warnings_omitted"), unchecked_drift=unchecked,
            other=_other(data, cls.KEYS),
        )

    def to_json(self) -> dict[str, Any]:
        """The report JSON: a fresh dict that shares nothing with this value."""
        out: dict[str, Any] = {
            "fabric": self.fabric, "status": self.status, "generated_at": self.generated_at,
            "git": self.git.to_json(), "cluster": self.cluster.to_json(), "summary": self.summary.to_json(),
            "score": self.score, "severity": self.severity, "drift_since": self.drift_since,
            "resources": [r.to_json() for r in self.resources], "errors": [f.to_json() for f in self.errors],
        }
        if self.warnings is not ABSENT:
            out["warnings"] = [f.to_json() for f in self.warnings]
        _write(out, "resources_omitted", self.resources_omitted)
        _write(out, "errors_omitted", self.errors_omitted)
        _write(out, "warnings_omitted", self.warnings_omitted)
        if self.unchecked_drift is not ABSENT:
            out["unchecked_drift"] = [r.to_json() for r in self.unchecked_drift]
        return _finish(out, self.other)

    # What readers ask of a report, so they need not spell its keys.
    @property
    def is_unknown(self) -> bool:
        return self.status == UNKNOWN

    @property
    def is_drifted(self) -> bool:
        return self.status == DRIFTED

    @property
    def is_in_sync(self) -> bool:
        return self.status == IN_SYNC_STATUS

    @property
    def differ(self) -> int:
        """Resources that differ: modified + missing + extra."""
        return self.summary.differ

    @property
    def critical_resources(self) -> tuple[ResourceEntry, ...]:
        return tuple(r for r in self.resources if r.severity == CRITICAL)


def as_report(value: "DriftReport | Mapping[str, Any]") -> DriftReport:
    """A report given either way (typed, or as its JSON), as the typed value."""
    return value if isinstance(value, DriftReport) else DriftReport.from_json(value)


def as_report_json(value: "DriftReport | Mapping[str, Any] | None") -> dict[str, Any] | None:
    """A report given either way (or None), as its JSON."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, DriftReport):
        return value.to_json()
    return dict(value)
