"""The plain data both sides of a comparison are made of: identities, findings, snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hedgehog_sync.domain.kinds import split_api_version

Obj = dict[str, Any]


@dataclass(frozen=True, order=True)
class ResourceId:
    """Identity of a resource: (group, kind, namespace, name). The version is not part of it."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Obj, default_namespace: str = "default") -> "ResourceId":
        group, _ = split_api_version(str(obj.get("apiVersion", "")))
        meta = obj.get("metadata")
        if not isinstance(meta, dict):  # a malformed object has an identity too: never a crash here
            meta = {}
        return cls(
            group=group,
            kind=str(obj.get("kind", "")),
            namespace=str(meta.get("namespace") or default_namespace),
            name=str(meta.get("name", "")),
        )

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name} ({self.group})"


@dataclass(frozen=True)
class Finding:
    """Something wrong with one input (a file, a document, a plural), reported, never raised."""

    source: str  # a file path in the repository, or "cluster:<plural>"
    message: str
    level: str = "error"  # "error" makes the side incomplete for that source; "warning" does not
    document: int | None = None  # 1-based index of the YAML document in its file

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "level": self.level, "message": self.message}
        if self.document is not None:
            out["document"] = self.document
        return out


@dataclass
class LiveState:
    """Everything read from a fabric's API server in one pass."""

    server: str
    objects: list[Obj] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # False when any served plural could not be listed to the end: never report such a read in sync.
    complete: bool = True


@dataclass
class DesiredState:
    """A fabric's desired resources as they stand in Git at one commit."""

    commit: str
    ref: str
    objects: list[Obj] = field(default_factory=list)
    # Where each object came from, aligned with `objects`: (file path, 1-based document index).
    sources: list[tuple[str, int]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    commit_message: str = ""
    commit_author: str = ""
