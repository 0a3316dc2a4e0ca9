"""A local stand-in for the Kubernetes API servers of Hedgehog fabrics, speaking the real REST protocol.

One process serves many fabrics, each under `/fabrics/<fabric>` with its own bearer token, so
the official `kubernetes` client works against it unchanged (its kubeconfig `server:` is
`http://127.0.0.1:PORT/fabrics/<fabric>`). Objects live in a `FabricStore` that tests and the
demo also drive directly from Python. `FaultRules` put failures in front of chosen requests.
With a `ClusterObjectStore`, a served name also holds built-in objects (Namespaces, Secrets,
ConfigMaps, batch/v1 Jobs, ...): the cluster a Dagster run launcher creates its Jobs in.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import copy
import hashlib
import hmac
import json
import logging
import os
import random
import re
import secrets
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from starlette.requests import Request

from hedgehog_sync.domain.kinds import KINDS, ResourceKind, split_api_version
from hedgehog_sync.domain.model import Obj

_log = logging.getLogger(__name__)

NAMESPACE = "default"
HOST = "127.0.0.1"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
# What `/version` answers: a recent Kubernetes, marked as the devlab build.
SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-devlab",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# How many changes per fabric a watch can resume across; an older resourceVersion gets 410 Gone.
WATCH_HISTORY = 1000
_FABRIC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Metadata only the API server writes: a client's values for these are ignored.
_SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_STATUS_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


# --- Kubernetes Status and errors ---------------------------------------------------------------
def status_body(
    code: int, reason: str | None = None, message: str | None = None, details: Obj | None = None
) -> Obj:
    """A Kubernetes `Status` object, as the API server answers failures."""
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message if message is not None else _phrase(code),
        "reason": reason if reason is not None else _STATUS_REASONS.get(code, ""),
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


class ApiError(Exception):
    """A request the devlab API server refuses, with the Kubernetes Status it answers."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> Obj:
        return status_body(self.code, self.reason, self.message, self.details)


def _accepted(*media_types: str) -> str:
    return "the body of the request was in an unknown format - accepted media types include: " + ", ".join(
        media_types
    )


def _resource_label(kind: ResourceKind) -> str:
    return f"{kind.plural}.{kind.group}"


def _details(kind: ResourceKind, name: str) -> Obj:
    return {"name": name, "group": kind.group, "kind": kind.plural}


def _not_found(kind: ResourceKind, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_resource_label(kind)} "{name}" not found', _details(kind, name))


def _no_such_resource() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def _invalid(kind: ResourceKind, name: str, problem: str) -> ApiError:
    return ApiError(
        422, "Invalid", f'{kind.kind}.{kind.group} "{name}" is invalid: {problem}', _details(kind, name)
    )


def _conflict(kind: ResourceKind, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_resource_label(kind)} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        _details(kind, name),
    )


# --- patches ------------------------------------------------------------------------------------
def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: `null` deletes a key, objects merge, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test); raises ValueError on a bad op."""
    if not isinstance(operations, list):
        raise ValueError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(document)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ValueError(f"invalid JSON patch operation {op!r}")
        kind, path = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _pointer_add(doc, path, copy.deepcopy(_operand(op)))
        elif kind == "remove":
            doc, _ = _pointer_remove(doc, path)
        elif kind == "replace":
            doc, _ = _pointer_remove(doc, path)
            doc = _pointer_add(doc, path, copy.deepcopy(_operand(op)))
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            if kind == "move":
                doc, value = _pointer_remove(doc, source)
            else:
                value = copy.deepcopy(_pointer_get(doc, source))
            doc = _pointer_add(doc, path, value)
        elif kind == "test":
            if _pointer_get(doc, path) != _operand(op):
                raise ValueError(f"test operation failed at {op['path']}")
        else:
            raise ValueError(f"unknown JSON patch operation {kind!r}")
    return doc


def _operand(op: Obj) -> Any:
    if "value" not in op:
        raise ValueError(f"operation {op['op']} at {op['path']} has no value")
    return op["value"]


def _pointer(text: Any) -> list[str]:
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise ValueError(f"invalid JSON pointer {text!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in text.split("/")[1:]]


def _index(container: list, token: str, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit():
        raise ValueError(f"invalid list index {token!r}")
    index = int(token)
    if index > len(container) or (not for_add and index == len(container)):
        raise ValueError(f"list index {index} out of range")
    return index


def _pointer_get(doc: Any, path: list[str]) -> Any:
    for token in path:
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list):
            doc = doc[_index(doc, token, for_add=False)]
        else:
            raise ValueError(f"path /{'/'.join(path)} does not exist")
    return doc


def _pointer_add(doc: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _pointer_get(doc, path[:-1])
    if isinstance(parent, dict):
        parent[path[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, path[-1], for_add=True), value)
    else:
        raise ValueError(f"cannot add below a scalar at /{'/'.join(path)}")
    return doc


def _pointer_remove(doc: Any, path: list[str]) -> tuple[Any, Any]:
    if not path:
        return None, doc
    parent = _pointer_get(doc, path[:-1])
    if isinstance(parent, dict) and path[-1] in parent:
        return doc, parent.pop(path[-1])
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, path[-1], for_add=False))
    raise ValueError(f"path /{'/'.join(path)} does not exist")


# --- label selectors ----------------------------------------------------------------------------
def label_selector(expression: str) -> Callable[[Mapping[str, str]], bool]:
    """A predicate for an equality-based label selector (`a=b,c!=d,e,!f`); set-based ones are refused."""
    if "(" in expression:
        raise ValueError("set-based label selectors are not supported by the devlab API server")
    terms = [_selector_term(text.strip()) for text in expression.split(",") if text.strip()]
    return lambda labels: all(_term_holds(term, labels) for term in terms)


def _selector_term(text: str) -> tuple[str, str, str | None]:
    """(key, operator, value) of one selector term; operators are =, !=, exists and !exists."""
    if "!=" in text:
        key, value = text.split("!=", 1)
        return key.strip(), "!=", value.strip()
    if "=" in text:
        key, value = text.replace("==", "=").split("=", 1)
        return key.strip(), "=", value.strip()
    if text.startswith("!"):
        return text[1:].strip(), "!exists", None
    return text, "exists", None


def field_selector(expression: str) -> Callable[[Obj], bool]:
    """A predicate for a field selector on what custom resources support: metadata.name and metadata.namespace."""
    terms = []
    for text in (t.strip() for t in expression.split(",")):
        if not text:
            continue
        key, operator, value = _selector_term(text)
        if operator not in ("=", "!=") or key not in ("metadata.name", "metadata.namespace"):
            raise ValueError(f'"{key}" is not a known field selector: only "metadata.name", "metadata.namespace"')
        terms.append((key.split(".", 1)[1], operator, value))
    return lambda obj: all(
        (str((obj.get("metadata") or {}).get(key, "")) == value) == (operator == "=")
        for key, operator, value in terms
    )


def _term_holds(term: tuple[str, str, str | None], labels: Mapping[str, str]) -> bool:
    key, operator, value = term
    if operator == "=":
        return labels.get(key) == value
    if operator == "!=":
        return labels.get(key) != value
    return (key in labels) == (operator == "exists")


# --- the store ----------------------------------------------------------------------------------
@dataclass
class _Fabric:
    """One fabric's objects and the settings its API server is served with."""

    name: str
    token: str | None
    groups: frozenset[str]
    # (group, plural, namespace, name) -> the stored object
    objects: dict[tuple[str, str, str, str], Obj] = field(default_factory=dict)
    resource_version: int = 0
    # The latest changes, for watches: (resourceVersion, ADDED|MODIFIED|DELETED, key, object).
    history: deque[tuple[int, str, tuple[str, str, str, str], Obj]] = field(
        default_factory=lambda: deque(maxlen=WATCH_HISTORY)
    )
    # A watch can resume from this resourceVersion or later; older ones are answered 410 Gone.
    history_floor: int = 0

    def record(self, event: str, key: tuple[str, str, str, str], obj: Obj) -> None:
        """Remember a change (the caller holds the store's lock and has bumped resource_version)."""
        if len(self.history) == self.history.maxlen:
            self.history_floor = self.history[0][0]
        self.history.append((self.resource_version, event, key, copy.deepcopy(obj)))


def _listed(
    store: _Fabric,
    kind: ResourceKind,
    namespace: str | None,
    after: tuple[str, str] | None,
    matches: Callable[[Mapping[str, str]], bool] | None,
) -> list[Obj]:
    """The stored objects of one kind after a (namespace, name) position, in list order."""
    keys = sorted(
        key
        for key in store.objects
        if key[0] == kind.group
        and key[1] == kind.plural
        and (namespace is None or key[2] == namespace)
        and (after is None or (key[2], key[3]) > after)
    )
    objects = [store.objects[key] for key in keys]
    if matches is None:
        return objects
    return [obj for obj in objects if matches(obj["metadata"].get("labels") or {})]


class FabricStore:
    """The live objects of every devlab fabric, in memory, safe to use from many threads."""

    def __init__(self, kinds: Sequence[ResourceKind] = KINDS):
        self._kinds = tuple(kinds)
        self._all_groups = frozenset(k.group for k in self._kinds)
        self._fabrics: dict[str, _Fabric] = {}
        self._lock = threading.RLock()
        # bumped on every mutation; the autosaver compares it to what it last wrote
        self._changes = 0

    # -- fabrics --
    def add_fabric(self, name: str, token: str | None, groups: Iterable[str] | None = None) -> None:
        """Serve a fabric (or reconfigure one, keeping its objects); groups=None serves every group."""
        if not _FABRIC_NAME.match(name):
            raise ValueError(f"fabric name {name!r} is not a DNS label")
        served = self._all_groups if groups is None else frozenset(groups)
        unknown = served - self._all_groups
        if unknown:
            raise ValueError(f"fabric {name}: unknown API groups {sorted(unknown)}")
        with self._lock:
            existing = self._fabrics.get(name)
            if existing is None:
                self._fabrics[name] = _Fabric(name, token, served)
            else:
                existing.token, existing.groups = token, served
            self._changes += 1

    def fabrics(self) -> list[str]:
        with self._lock:
            return sorted(self._fabrics)

    def has_fabric(self, name: str) -> bool:
        with self._lock:
            return name in self._fabrics

    def token(self, fabric: str) -> str | None:
        """The bearer token a fabric accepts (devlab only: real servers never reveal one)."""
        with self._lock:
            return self._fabric(fabric).token

    def token_matches(self, fabric: str, presented: str) -> bool:
        with self._lock:
            expected = self._fabric(fabric).token
        return expected is not None and hmac.compare_digest(expected.encode(), presented.encode())

    def served_kinds(self, fabric: str) -> list[ResourceKind]:
        with self._lock:
            groups = self._fabric(fabric).groups
        return [k for k in self._kinds if k.group in groups]

    def served_kind(self, fabric: str, group: str, version: str, plural: str) -> ResourceKind:
        """The kind served at /apis/<group>/<version>/.../<plural>; 404 ApiError if none is."""
        for kind in self.served_kinds(fabric):
            if (kind.group, kind.version, kind.plural) == (group, version, plural):
                return kind
        raise _no_such_resource()

    @property
    def changes(self) -> int:
        return self._changes

    # -- Python API for tests and the demo --
    def put(self, fabric: str, obj: Obj, *, manager: str = "devlab") -> Obj:
        """Create or replace an object with the server's bookkeeping; its `status`, if given, is kept."""
        kind = self._kind_of(fabric, obj)
        namespace = (obj.get("metadata") or {}).get("namespace") or NAMESPACE
        name = str((obj.get("metadata") or {}).get("name") or "")
        with self._lock:
            existing = self._fabric(fabric).objects.get((kind.group, kind.plural, namespace, name))
            if existing is None:
                return self.create(fabric, obj, namespace=namespace, manager=manager, keep_status=True)
            body = copy.deepcopy(obj)
            # Unconditional, like `kubectl replace --force`: seeding never conflicts.
            body.setdefault("metadata", {}).pop("resourceVersion", None)
            if "status" not in body:
                body["status"] = existing.get("status")
            return self._update(fabric, kind, namespace, name, body, manager, keep_status=False)

    def set_status(
        self,
        fabric: str,
        group: str,
        plural_or_kind: str,
        name: str,
        status: Obj,
        *,
        namespace: str = NAMESPACE,
    ) -> Obj:
        """Write an object's status the way a controller does, through the status subresource."""
        kind = self._kind_named(fabric, group, plural_or_kind)
        return self.replace(fabric, kind, name, {"status": status}, namespace=namespace, subresource="status")

    def get(
        self, fabric: str, group: str, plural_or_kind: str, name: str, *, namespace: str = NAMESPACE
    ) -> Obj | None:
        kind = self._kind_named(fabric, group, plural_or_kind)
        with self._lock:
            found = self._fabric(fabric).objects.get((kind.group, kind.plural, namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def list(
        self,
        fabric: str,
        group: str | None = None,
        plural_or_kind: str | None = None,
        *,
        namespace: str | None = None,
    ) -> list[Obj]:
        """Stored objects of a fabric, optionally of one group or kind, by group, plural, namespace, name."""
        plural = self._kind_named(fabric, group, plural_or_kind).plural if group and plural_or_kind else None
        with self._lock:
            rows = [
                (key, obj)
                for key, obj in self._fabric(fabric).objects.items()
                if (group is None or key[0] == group)
                and (plural is None or key[1] == plural)
                and (namespace is None or key[2] == namespace)
            ]
            return [copy.deepcopy(obj) for _, obj in sorted(rows, key=lambda row: row[0])]

    def delete(
        self,
        fabric: str,
        group: str,
        plural_or_kind: str,
        name: str,
        *,
        namespace: str = NAMESPACE,
        preconditions: Mapping[str, Any] | None = None,
    ) -> Obj | None:
        """Remove an object and return it as it was; None if there was none."""
        kind = self._kind_named(fabric, group, plural_or_kind)
        with self._lock:
            store = self._fabric(fabric)
            key = (kind.group, kind.plural, namespace, name)
            existing = store.objects.get(key)
            if existing is None:
                return None
            meta = existing["metadata"]
            for field_name in ("uid", "resourceVersion"):
                wanted = (preconditions or {}).get(field_name)
                if wanted and wanted != meta.get(field_name):
                    raise _conflict(kind, name)
            del store.objects[key]
            store.resource_version += 1
            gone = copy.deepcopy(existing)
            gone["metadata"]["resourceVersion"] = str(store.resource_version)
            store.record("DELETED", key, gone)
            self._changes += 1
            return copy.deepcopy(existing)

    # -- the REST verbs --
    def create(
        self,
        fabric: str,
        obj: Obj,
        *,
        kind: ResourceKind | None = None,
        namespace: str = NAMESPACE,
        manager: str = "devlab",
        keep_status: bool = False,
    ) -> Obj:
        """POST: store a new object of `kind` (default: the body's); 409 if it exists.

        Status is dropped, as with a status subresource, unless keep_status (seeding from Python).
        """
        kind = kind or self._kind_of(fabric, obj)
        body = copy.deepcopy(obj)
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            meta = body["metadata"] = {}
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{secrets.token_hex(3)[:5]}"
        name = str(meta.get("name") or "")
        self._check_object(kind, namespace, body)
        with self._lock:
            store = self._fabric(fabric)
            key = (kind.group, kind.plural, namespace, name)
            if key in store.objects:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{_resource_label(kind)} "{name}" already exists',
                    _details(kind, name),
                )
            for server_field in _SERVER_METADATA:
                meta.pop(server_field, None)
            if not keep_status:
                body.pop("status", None)  # Hedgehog CRDs have a status subresource: creates ignore status
            store.resource_version += 1
            now = _now()
            meta.update(
                namespace=namespace,
                uid=str(uuid.uuid4()),
                creationTimestamp=now,
                generation=1,
                resourceVersion=str(store.resource_version),
                managedFields=[_managed_entry(manager, kind, now, body, subresource=None)],
            )
            store.objects[key] = body
            store.record("ADDED", key, body)
            self._changes += 1
            return copy.deepcopy(body)

    def replace(
        self,
        fabric: str,
        kind: ResourceKind,
        name: str,
        obj: Obj,
        *,
        namespace: str = NAMESPACE,
        manager: str = "devlab",
        subresource: str | None = None,
    ) -> Obj:
        """PUT: replace an object (or its status); 409 if body.metadata.resourceVersion is stale."""
        with self._lock:
            return self._update(
                fabric, kind, namespace, name, obj, manager, keep_status=True, subresource=subresource
            )

    def patch(
        self,
        fabric: str,
        kind: ResourceKind,
        name: str,
        patch: Any,
        *,
        content_type: str = MERGE_PATCH,
        namespace: str = NAMESPACE,
        manager: str = "devlab",
        subresource: str | None = None,
    ) -> Obj:
        """PATCH with a JSON merge patch or a JSON patch, applied to the current object atomically."""
        with self._lock:
            current = self._fabric(fabric).objects.get((kind.group, kind.plural, namespace, name))
            if current is None:
                raise _not_found(kind, name)
            if content_type == MERGE_PATCH:
                if not isinstance(patch, dict):
                    raise ApiError(400, "BadRequest", "a merge patch of an object must be a JSON object")
                patched = merge_patch(current, patch)
            elif content_type == JSON_PATCH:
                try:
                    patched = json_patch(current, patch)
                except (ValueError, IndexError, TypeError) as exc:
                    raise _invalid(kind, name, f"the JSON patch could not be applied: {exc}") from None
            else:
                raise ApiError(415, "UnsupportedMediaType", _accepted(MERGE_PATCH, JSON_PATCH))
            if not isinstance(patched, dict):
                raise ApiError(400, "BadRequest", "the patch does not leave an object")
            return self._update(
                fabric, kind, namespace, name, patched, manager, keep_status=True, subresource=subresource
            )

    def list_page(
        self,
        fabric: str,
        kind: ResourceKind,
        *,
        namespace: str | None = NAMESPACE,
        limit: int | None = None,
        continue_token: str | None = None,
        selector: str | None = None,
        fields: str | None = None,
    ) -> Obj:
        """GET a collection: one page ordered by (namespace, name), with an opaque continue token."""
        matches = label_selector(selector) if selector else None
        field_matches = field_selector(fields) if fields else None
        with self._lock:
            store = self._fabric(fabric)
            snapshot = store.resource_version
            after: tuple[str, str] | None = None
            if continue_token:
                snapshot, after = _decode_continue(continue_token)
            rows = _listed(store, kind, namespace, after, matches)
            if field_matches is not None:
                rows = [obj for obj in rows if field_matches(obj)]
            page = rows if not limit or limit <= 0 else rows[:limit]
            metadata: Obj = {"resourceVersion": str(snapshot)}
            if len(page) < len(rows):
                last = page[-1]["metadata"]
                metadata["continue"] = _encode_continue(snapshot, (last["namespace"], last["name"]))
                metadata["remainingItemCount"] = len(rows) - len(page)
            return {
                "apiVersion": kind.api_version,
                "kind": f"{kind.kind}List",
                "metadata": metadata,
                "items": [copy.deepcopy(obj) for obj in page],
            }

    def watch_events(
        self,
        fabric: str,
        kind: ResourceKind,
        since: int | None,
        *,
        namespace: str | None = None,
        selector: str | None = None,
        fields: str | None = None,
    ) -> tuple[list[Obj], int]:
        """The watch events of one kind after resourceVersion `since` and the version they reach.

        since=None starts with an ADDED event per current object, as a watch without resourceVersion
        does; a `since` older than the retained history raises a 410 Expired ApiError.
        """
        labels = label_selector(selector) if selector else None
        field_matches = field_selector(fields) if fields else None

        def wanted(key: tuple[str, str, str, str], obj: Obj) -> bool:
            return (
                key[:2] == (kind.group, kind.plural)
                and (namespace is None or key[2] == namespace)
                and (labels is None or labels((obj.get("metadata") or {}).get("labels") or {}))
                and (field_matches is None or field_matches(obj))
            )

        with self._lock:
            store = self._fabric(fabric)
            if since is None:
                rows = [
                    ("ADDED", obj) for key, obj in sorted(store.objects.items()) if wanted(key, obj)
                ]
                return [{"type": t, "object": copy.deepcopy(o)} for t, o in rows], store.resource_version
            if since < store.history_floor or since > store.resource_version:
                raise ApiError(
                    410, "Expired", f"too old resource version: {since} ({store.history_floor})"
                )
            events = [
                {"type": event, "object": copy.deepcopy(obj)}
                for version, event, key, obj in store.history
                if version > since and wanted(key, obj)
            ]
            return events, store.resource_version

    # -- persistence --
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write every fabric's objects (never its token) to a JSON file, atomically."""
        with self._lock:
            state = {
                "apiVersion": "devlab.hedgehog-sync/v1",
                "kind": "FabricStoreState",
                "fabrics": {
                    f.name: {
                        "groups": sorted(f.groups),
                        "resourceVersion": f.resource_version,
                        "objects": [f.objects[key] for key in sorted(f.objects)],
                    }
                    for f in self._fabrics.values()
                },
            }
            text = json.dumps(state, indent=1, sort_keys=True)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, target)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Replace the objects of the fabrics in a saved state file; fabrics new here get no token."""
        state = json.loads(Path(path).read_text(encoding="utf-8"))
        if state.get("kind") != "FabricStoreState":
            raise ValueError(f"{path} is not a devlab API server state file")
        with self._lock:
            for name, saved in (state.get("fabrics") or {}).items():
                if name not in self._fabrics:
                    self.add_fabric(name, None, saved.get("groups"))
                store = self._fabrics[name]
                store.objects = {}
                for obj in saved.get("objects") or []:
                    kind = self._any_kind_of(obj)
                    meta = obj["metadata"]
                    store.objects[(kind.group, kind.plural, meta["namespace"], meta["name"])] = obj
                store.resource_version = max(store.resource_version, int(saved.get("resourceVersion") or 0))
                # what changed before the load is not known: a watch must list again
                store.history.clear()
                store.history_floor = store.resource_version
            self._changes += 1

    # -- internals --
    def _fabric(self, name: str) -> _Fabric:
        try:
            return self._fabrics[name]
        except KeyError:
            raise KeyError(f"no devlab fabric named {name!r}") from None

    def _kind_named(self, fabric: str, group: str | None, plural_or_kind: str | None) -> ResourceKind:
        for kind in self.served_kinds(fabric):
            if kind.group == group and plural_or_kind in (kind.plural, kind.kind, kind.kind.lower()):
                return kind
        raise _no_such_resource()

    def _kind_of(self, fabric: str, obj: Obj) -> ResourceKind:
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the object is not a JSON object")
        group, version = split_api_version(str(obj.get("apiVersion", "")))
        for kind in self.served_kinds(fabric):
            if (kind.group, kind.version, kind.kind) == (group, version, obj.get("kind")):
                return kind
        raise ApiError(404, "NotFound", f"no kind {obj.get('kind')!r} is served in {obj.get('apiVersion')!r}")

    def _any_kind_of(self, obj: Obj) -> ResourceKind:
        group, version = split_api_version(str(obj.get("apiVersion", "")))
        for kind in self._kinds:
            if (kind.group, kind.version, kind.kind) == (group, version, obj.get("kind")):
                return kind
        raise ValueError(f"saved object of unknown kind {obj.get('apiVersion')}/{obj.get('kind')}")

    @staticmethod
    def _check_object(kind: ResourceKind, namespace: str, body: Obj) -> None:
        meta = body["metadata"]
        name = str(meta.get("name") or "")
        if body.get("apiVersion") != kind.api_version or body.get("kind") != kind.kind:
            raise ApiError(
                400,
                "BadRequest",
                f"the object's {body.get('apiVersion')}/{body.get('kind')} does not match the expected "
                f"{kind.api_version}/{kind.kind}",
            )
        if not name:
            raise _invalid(kind, name, "metadata.name: Required value: name or generateName is required")
        if len(name) > 253 or not _OBJECT_NAME.match(name):
            raise _invalid(
                kind, name, f'metadata.name: Invalid value: "{name}": must be a lowercase RFC 1123 subdomain'
            )
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        if namespace != NAMESPACE:
            # Hedgehog's webhooks admit objects in `default` only.
            raise _invalid(
                kind,
                name,
                f'metadata.namespace: Invalid value: "{namespace}": only namespace "default" is allowed',
            )

    def _update(
        self,
        fabric: str,
        kind: ResourceKind,
        namespace: str,
        name: str,
        body: Obj,
        manager: str,
        *,
        keep_status: bool,
        subresource: str | None = None,
    ) -> Obj:
        """Replace a stored object with the bookkeeping of an update; the caller holds the lock."""
        store = self._fabric(fabric)
        key = (kind.group, kind.plural, namespace, name)
        current = store.objects.get(key)
        if current is None:
            raise _not_found(kind, name)
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the object is not a JSON object")
        wanted_version = (body.get("metadata") or {}).get("resourceVersion")
        if wanted_version and wanted_version != current["metadata"]["resourceVersion"]:
            raise _conflict(kind, name)
        if subresource == "status":
            updated = copy.deepcopy(current)
            if body.get("status") is None:
                updated.pop("status", None)
            else:
                updated["status"] = copy.deepcopy(body["status"])
        else:
            updated = copy.deepcopy(body)
            meta = updated.setdefault("metadata", {})
            if meta.get("name") not in (None, name):
                raise ApiError(
                    400,
                    "BadRequest",
                    f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                    f"({name})",
                )
            meta["name"] = name
            self._check_object(kind, namespace, updated)
            if keep_status:
                # spec writes never touch status: that is the status subresource's job
                updated.pop("status", None)
                if "status" in current:
                    updated["status"] = copy.deepcopy(current["status"])
            elif updated.get("status") is None:
                updated.pop("status", None)
            for server_field in _SERVER_METADATA:
                meta.pop(server_field, None)
            old_meta = current["metadata"]
            meta.update(
                namespace=namespace,
                uid=old_meta["uid"],
                creationTimestamp=old_meta["creationTimestamp"],
                generation=old_meta["generation"]
                + (1 if _generation_content(updated) != _generation_content(current) else 0),
            )
        store.resource_version += 1
        now = _now()
        updated["metadata"]["resourceVersion"] = str(store.resource_version)
        updated["metadata"]["managedFields"] = _record_manager(
            current["metadata"].get("managedFields") or [],
            _managed_entry(manager, kind, now, updated, subresource),
        )
        store.objects[key] = updated
        store.record("MODIFIED", key, updated)
        self._changes += 1
        return copy.deepcopy(updated)


def _generation_content(obj: Obj) -> Obj:
    """What metadata.generation counts changes of: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _field_set(value: Obj, top: bool = False) -> Obj:
    """The FieldsV1 set of a map: every key as `f:<key>`, nested maps marked with `.`, lists as leaves."""
    out: Obj = {} if top else {".": {}}
    for key, item in value.items():
        out[f"f:{key}"] = _field_set(item) if isinstance(item, dict) and item else {}
    return out


def _managed_entry(manager: str, kind: ResourceKind, now: str, obj: Obj, subresource: str | None) -> Obj:
    """One managedFields entry as the API server records it for an Update."""
    if subresource == "status":
        fields = {"f:status": _field_set(obj["status"])} if isinstance(obj.get("status"), dict) else {}
    else:
        meta = obj.get("metadata") or {}
        owned_meta = {
            k: meta[k] for k in ("labels", "annotations", "finalizers", "ownerReferences") if meta.get(k)
        }
        fields = {
            f"f:{k}": (_field_set(v) if isinstance(v, dict) and v else {})
            for k, v in obj.items()
            if k not in ("apiVersion", "kind", "metadata", "status")
        }
        if owned_meta:
            fields["f:metadata"] = _field_set(owned_meta, top=True)
    entry: Obj = {
        "manager": manager,
        "operation": "Update",
        "apiVersion": kind.api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def _record_manager(entries: list[Obj], entry: Obj) -> list[Obj]:
    """Replace the entry of the same manager, operation and subresource, or append a new one."""
    owner = (entry["manager"], entry["operation"], entry.get("subresource"))
    kept = [e for e in entries if (e.get("manager"), e.get("operation"), e.get("subresource")) != owner]
    return copy.deepcopy(kept) + [entry]


def _encode_continue(snapshot: int, after: tuple[str, str]) -> str:
    raw = json.dumps({"rv": snapshot, "start": list(after)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        namespace, name = raw["start"]
        return int(raw["rv"]), (str(namespace), str(name))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, "BadRequest", "continue key is not valid") from None


# --- built-in objects of a served cluster -------------------------------------------------------
@dataclass(frozen=True)
class CoreKind:
    """A built-in Kubernetes kind a devlab server can also hold, e.g. batch/v1 Job."""

    group: str  # "" for the core group (/api/v1)
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def label(self) -> str:
        """How the API server names the resource in messages: `jobs.batch`, `secrets`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


# What a Dagster deployment writes to its own cluster: the K8sRunLauncher creates Jobs and reads
# their Pods; the deployment guide creates the Namespace, Secrets, ConfigMaps and the claim.
CORE_KINDS: tuple[CoreKind, ...] = (
    CoreKind("", "v1", "namespaces", "Namespace", namespaced=False),
    CoreKind("", "v1", "configmaps", "ConfigMap"),
    CoreKind("", "v1", "secrets", "Secret"),
    CoreKind("", "v1", "serviceaccounts", "ServiceAccount"),
    CoreKind("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    CoreKind("", "v1", "pods", "Pod"),
    CoreKind("batch", "v1", "jobs", "Job"),
)
# Namespaces every cluster has without anyone creating them.
_BUILT_IN_NAMESPACES = frozenset({NAMESPACE, "kube-system", "kube-public"})
_MAX_LABEL_VALUE = 63  # a Job's name becomes the job-name label of its pods


def _core_details(kind: CoreKind, name: str, uid: str | None = None) -> Obj:
    details: Obj = {"name": name, "group": kind.group, "kind": kind.plural}
    if uid:
        details["uid"] = uid
    return details


def _core_invalid(kind: CoreKind, name: str, problem: str) -> ApiError:
    label = f"{kind.kind}.{kind.group}" if kind.group else kind.kind
    return ApiError(422, "Invalid", f'{label} "{name}" is invalid: {problem}', _core_details(kind, name))


def _core_not_found(kind: CoreKind, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{kind.label} "{name}" not found', _core_details(kind, name))


class ClusterObjectStore:
    """Built-in objects (Namespaces, Secrets, ConfigMaps, Jobs, Pods, ...) of served clusters, in memory.

    Kept apart from the Hedgehog objects of `FabricStore`: a name served by the devlab (one of
    `FabricStore.fabrics()`) can stand for the cluster Dagster itself runs in, so that a run launcher
    and the deployment guide's `kubectl create` calls talk to it over the real REST protocol. The API
    server's own work on a write is done (uid, resourceVersion, Job defaults and selector, Secret
    stringData); no controller runs, so a Job's status changes only through `set_status`.
    """

    def __init__(self, kinds: Sequence[CoreKind] = CORE_KINDS):
        self._kinds = tuple(kinds)
        # (cluster, group, plural, namespace, name) -> the stored object; namespace "" if cluster-scoped
        self._objects: dict[tuple[str, str, str, str, str], Obj] = {}
        self._resource_version = 0
        self._lock = threading.RLock()

    @property
    def kinds(self) -> tuple[CoreKind, ...]:
        return self._kinds

    def kind(self, group: str, version: str, plural: str) -> CoreKind:
        """The kind served at /api/v1/.../<plural> (group "") or /apis/<group>/<version>/.../<plural>."""
        for kind in self._kinds:
            if (kind.group, kind.version, kind.plural) == (group, version, plural):
                return kind
        raise _no_such_resource()

    def kind_named(self, plural_or_kind: str) -> CoreKind:
        for kind in self._kinds:
            if plural_or_kind in (kind.plural, kind.kind, kind.kind.lower()):
                return kind
        raise ValueError(f"{plural_or_kind!r} is not a built-in kind of the devlab")

    # -- Python API for tests --
    def create(self, cluster: str, obj: Obj, *, namespace: str | None = None) -> Obj:
        """POST: store a new object with the server's bookkeeping; 404 if its namespace does not exist."""
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the object is not a JSON object")
        kind = self._kind_of(obj)
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        namespace = (namespace or meta.get("namespace") or NAMESPACE) if kind.namespaced else ""
        return self._create(cluster, kind, obj, namespace)

    def get(self, cluster: str, plural_or_kind: str, name: str, *, namespace: str = NAMESPACE) -> Obj | None:
        return self._get(cluster, self.kind_named(plural_or_kind), namespace, name)

    def list(
        self,
        cluster: str,
        plural_or_kind: str,
        *,
        namespace: str | None = None,
        selector: str | None = None,
    ) -> list[Obj]:
        """Stored objects of a kind, ordered by namespace and name; namespace None = every namespace."""
        return self._listed(cluster, self.kind_named(plural_or_kind), namespace, selector)

    def delete(
        self, cluster: str, plural_or_kind: str, name: str, *, namespace: str = NAMESPACE
    ) -> Obj | None:
        """Remove an object (a Namespace with everything in it) and return it as it was; None if absent."""
        return self._delete(cluster, self.kind_named(plural_or_kind), namespace, name, cascade=True)

    def set_status(
        self, cluster: str, plural_or_kind: str, name: str, status: Obj, *, namespace: str = NAMESPACE
    ) -> Obj:
        """Write an object's status the way its controller would, e.g. a Job's `succeeded: 1`."""
        kind = self.kind_named(plural_or_kind)
        with self._lock:
            found = self._objects.get(self._key(cluster, kind, namespace, name))
            if found is None:
                raise _core_not_found(kind, name)
            found["status"] = copy.deepcopy(status)
            self._resource_version += 1
            found["metadata"]["resourceVersion"] = str(self._resource_version)
            return copy.deepcopy(found)

    def namespace_exists(self, cluster: str, namespace: str) -> bool:
        with self._lock:
            created = (cluster, "", "namespaces", "", namespace) in self._objects
            return created or namespace in _BUILT_IN_NAMESPACES

    # -- what the REST handlers call --
    def _create(self, cluster: str, kind: CoreKind, obj: Obj, namespace: str) -> Obj:
        body = copy.deepcopy(obj)
        # Like the real server, a typed endpoint fills in a body's missing apiVersion and kind.
        body["apiVersion"] = body.get("apiVersion") or kind.api_version
        body["kind"] = body.get("kind") or kind.kind
        if body["apiVersion"] != kind.api_version or body["kind"] != kind.kind:
            raise ApiError(
                400,
                "BadRequest",
                f"the object's {body.get('apiVersion')}/{body.get('kind')} does not match the expected "
                f"{kind.api_version}/{kind.kind}",
            )
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            meta = body["metadata"] = {}
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{secrets.token_hex(3)[:5]}"
        name = str(meta.get("name") or "")
        if kind.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        self._check_name(kind, name)
        for server_field in _SERVER_METADATA:
            meta.pop(server_field, None)
        with self._lock:
            if kind.namespaced and not self.namespace_exists(cluster, namespace):
                raise ApiError(
                    404,
                    "NotFound",
                    f'namespaces "{namespace}" not found',
                    {"name": namespace, "kind": "namespaces"},
                )
            key = self._key(cluster, kind, namespace, name)
            if key in self._objects or (kind.plural == "namespaces" and name in _BUILT_IN_NAMESPACES):
                raise ApiError(
                    409, "AlreadyExists", f'{kind.label} "{name}" already exists', _core_details(kind, name)
                )
            self._resource_version += 1
            uid = str(uuid.uuid4())
            meta.update(uid=uid, creationTimestamp=_now(), resourceVersion=str(self._resource_version))
            if kind.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            _admit(kind, body, uid)
            self._objects[key] = body
            return copy.deepcopy(body)

    def _listed(
        self, cluster: str, kind: CoreKind, namespace: str | None, selector: str | None
    ) -> list[Obj]:
        matches = label_selector(selector) if selector else None
        with self._lock:
            keys = sorted(
                key
                for key in self._objects
                if key[:3] == (cluster, kind.group, kind.plural)
                and (namespace is None or not kind.namespaced or key[3] == namespace)
            )
            objects = [copy.deepcopy(self._objects[key]) for key in keys]
        if matches is None:
            return objects
        return [obj for obj in objects if matches(obj["metadata"].get("labels") or {})]

    def _list_body(self, cluster: str, kind: CoreKind, namespace: str | None, selector: str | None) -> Obj:
        items = self._listed(cluster, kind, namespace, selector)
        with self._lock:
            version = str(self._resource_version)
        return {
            "apiVersion": kind.api_version,
            "kind": f"{kind.kind}List",
            "metadata": {"resourceVersion": version},
            "items": items,
        }

    def _get(self, cluster: str, kind: CoreKind, namespace: str, name: str) -> Obj | None:
        with self._lock:
            found = self._objects.get(self._key(cluster, kind, namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def _delete(
        self, cluster: str, kind: CoreKind, namespace: str, name: str, *, cascade: bool
    ) -> Obj | None:
        """Remove an object; a Namespace takes its objects along, a Job its Pods unless orphaned."""
        with self._lock:
            existing = self._objects.pop(self._key(cluster, kind, namespace, name), None)
            if existing is None:
                return None
            self._resource_version += 1
            if kind.plural == "namespaces":
                doomed = [k for k in self._objects if k[0] == cluster and k[3] == name]
            elif kind.plural == "jobs" and cascade:
                doomed = [
                    k
                    for k, obj in self._objects.items()
                    if k[:4] == (cluster, "", "pods", namespace)
                    and (obj["metadata"].get("labels") or {}).get("batch.kubernetes.io/job-name") == name
                ]
            else:
                doomed = []
            for key in doomed:
                del self._objects[key]
            return existing

    def _kind_of(self, obj: Obj) -> CoreKind:
        for kind in self._kinds:
            if (kind.api_version, kind.kind) == (obj.get("apiVersion"), obj.get("kind")):
                return kind
        raise ApiError(404, "NotFound", f"no kind {obj.get('kind')!r} is served in {obj.get('apiVersion')!r}")

    @staticmethod
    def _key(cluster: str, kind: CoreKind, namespace: str, name: str) -> tuple[str, str, str, str, str]:
        return (cluster, kind.group, kind.plural, namespace if kind.namespaced else "", name)

    @staticmethod
    def _check_name(kind: CoreKind, name: str) -> None:
        if not name:
            raise _core_invalid(kind, name, "metadata.name: Required value: name or generateName is required")
        pattern = _FABRIC_NAME if kind.plural == "namespaces" else _OBJECT_NAME
        if len(name) > 253 or not pattern.match(name):
            raise _core_invalid(
                kind, name, f'metadata.name: Invalid value: "{name}": must be a lowercase RFC 1123 name'
            )
        if kind.plural == "jobs" and len(name) > _MAX_LABEL_VALUE:
            raise _core_invalid(
                kind, name, f'metadata.name: Invalid value: "{name}": must be no more than 63 characters'
            )


def _admit(kind: CoreKind, body: Obj, uid: str) -> None:
    """What the API server's validation and defaulting do to a new object of a built-in kind."""
    if kind.plural == "secrets":
        data = body.get("data") or {}
        for key, value in data.items():
            try:
                base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                raise _core_invalid(
                    kind, body["metadata"]["name"], f"data[{key}]: Invalid value: not base64"
                ) from None
        for key, value in (body.pop("stringData", None) or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        body["data"] = data
        body.setdefault("type", "Opaque")
    elif kind.plural == "namespaces":
        body["status"] = {"phase": "Active"}
    elif kind.plural == "jobs":
        _admit_job(kind, body, uid)


def _admit_job(kind: CoreKind, body: Obj, uid: str) -> None:
    name = body["metadata"]["name"]
    spec = body.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    pod_spec = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(pod_spec, dict):
        raise _core_invalid(kind, name, "spec.template.spec: Required value")
    containers = pod_spec.get("containers") or []
    if not containers:
        raise _core_invalid(kind, name, "spec.template.spec.containers: Required value")
    for index, container in enumerate(containers):
        for required in ("name", "image"):
            if not (isinstance(container, dict) and container.get(required)):
                raise _core_invalid(
                    kind, name, f"spec.template.spec.containers[{index}].{required}: Required value"
                )
    if pod_spec.get("restartPolicy") not in ("Never", "OnFailure"):
        raise _core_invalid(
            kind,
            name,
            f'spec.template.spec.restartPolicy: Unsupported value: "{pod_spec.get("restartPolicy") or ""}": '
            'supported values: "OnFailure", "Never"',
        )
    for field_name, default in (("parallelism", 1), ("completions", 1), ("backoffLimit", 6)):
        spec.setdefault(field_name, default)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template_meta = template.setdefault("metadata", {})
    template_meta["labels"] = {
        **(template_meta.get("labels") or {}),
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    body["status"] = {}


# --- fault injection ----------------------------------------------------------------------------
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


class FaultRules:
    """The fault rules an API server consults per request; the first matching rule applies."""

    def __init__(self, rules: Iterable[FaultRule] = ()):
        self._rules = list(rules)
        self._lock = threading.Lock()

    def add(self, rule: FaultRule | None = None, **fields: Any) -> FaultRule:
        """Add a rule (or build one from keyword fields) and return it, so tests can read `hits`."""
        added = rule if rule is not None else FaultRule(**fields)
        with self._lock:
            self._rules.append(added)
        return added

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str, query: str) -> FaultRule | None:
        """The rule for this request, counting it as applied."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, query):
                    rule.hits += 1
                    return rule
        return None


# --- the HTTP application -----------------------------------------------------------------------
@dataclass
class _Reply:
    code: int
    body: Obj | str
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body, separators=(",", ":")).encode(), "application/json"


@dataclass
class _Watch:
    """A watch to stream: events of one kind after a resourceVersion, until its deadline."""

    fabric: str
    kind: ResourceKind
    namespace: str | None
    since: int | None
    selector: str | None
    fields: str | None
    bookmarks: bool
    seconds: float


@dataclass
class _Call:
    """One request inside a fabric, as the handlers see it."""

    fabric: str
    method: str
    params: dict[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    server_address: str

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError(400, "BadRequest", "the request body is not valid JSON") from None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "application/json").split(";")[0].strip().lower()

    @property
    def manager(self) -> str:
        """The field manager: `fieldManager`, else the user agent's product, as the API server does."""
        return (
            self.query.get("fieldManager")
            or self.headers.get("user-agent", "unknown").split("/")[0]
            or "unknown"
        )


_FABRIC_PATH = re.compile(r"^/fabrics/(?P<fabric>[^/]+)(?P<rest>/.*)?$")
_HEALTH_PATHS = ("/healthz", "/readyz", "/livez")
_SEGMENT = "[^/]+"


def _route(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", rf"(?P<\1>{_SEGMENT})", template) + "/?$")


class DevlabApp:
    """The ASGI application: fault rules, then fabric routing, bearer authentication and the REST verbs."""

    def __init__(
        self, store: FabricStore, faults: FaultRules | None = None, cluster: ClusterObjectStore | None = None
    ):
        self.store = store
        self.faults = faults if faults is not None else FaultRules()
        self.cluster = cluster
        # Seconds between BOOKMARK events on a watch that asked for them (real servers: about a minute).
        self.bookmark_seconds = 1.0
        # Set when the server stops: open watches end at once rather than hold the shutdown.
        self.stopping = threading.Event()
        # Built-in kinds are served only with a ClusterObjectStore; their routes come first.
        self._routes: list[tuple[re.Pattern[str], tuple[str, ...], Callable[[_Call], Any]]] = (
            self._core_routes(cluster) if cluster is not None else []
        )
        self._routes += [
            (_route("/version"), ("GET",), self._version),
            (_route("/api"), ("GET",), self._core_versions),
            (_route("/api/v1"), ("GET",), self._core_resources),
            (_route("/api/v1/namespaces/{namespace}/events"), ("GET",), self._events),
            (_route("/openapi/v3"), ("GET",), self._openapi_paths),
            (_route("/openapi/v3/apis/{group}/{version}"), ("GET",), self._openapi_group_version),
            (_route("/apis"), ("GET",), self._groups),
            (_route("/apis/{group}"), ("GET",), self._group),
            (_route("/apis/{group}/{version}"), ("GET",), self._resources),
            (
                _route("/apis/{group}/{version}/namespaces/{namespace}/{plural}"),
                ("GET", "POST"),
                self._collection,
            ),
            (
                _route("/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}"),
                ("GET", "PUT", "PATCH", "DELETE"),
                self._item,
            ),
            (
                _route("/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}/status"),
                ("GET", "PUT", "PATCH"),
                self._status,
            ),
            (_route("/apis/{group}/{version}/{plural}"), ("GET",), self._all_namespaces),
        ]

    async def __call__(self, scope: Obj, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        method, path = request.method, request.url.path
        rule = self.faults.take(method, path, scope.get("query_string", b"").decode("latin-1"))
        if rule is not None and rule.on_apply is not None:
            rule.on_apply()
        if rule is not None and rule.latency > 0:
            await asyncio.sleep(rule.latency)
        if rule is not None and rule.status is not None:
            reply = _fault_reply(rule.status, rule.retry_after)
        elif rule is not None and rule.action == "expire-if-changed" and self._continue_is_stale(request):
            reply = _Reply(410, status_body(
                410, "Expired", "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter."))
        else:
            reply = await self._serve(request, path)
        if isinstance(reply, _Watch):
            await self._stream(request, send, reply)
            return
        await _send(send, reply, rule.action if rule is not None else None)

    async def _stream(self, request: Request, send: Callable[..., Any], watch: _Watch) -> None:
        """Stream watch events as JSON lines; a resourceVersion too old ends it with a 410 ERROR event."""
        headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-cache, private")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        deadline = time.monotonic() + watch.seconds
        next_bookmark = time.monotonic() + self.bookmark_seconds
        since = watch.since
        while time.monotonic() < deadline and not self.stopping.is_set():
            try:
                events, reached = self.store.watch_events(
                    watch.fabric, watch.kind, since, namespace=watch.namespace,
                    selector=watch.selector, fields=watch.fields,
                )
            except ApiError as exc:
                events, reached = [{"type": "ERROR", "object": exc.status()}], None
            except KeyError:  # the fabric stopped being served
                break
            if watch.bookmarks and time.monotonic() >= next_bookmark and reached is not None:
                events.append({"type": "BOOKMARK", "object": {
                    "kind": watch.kind.kind, "apiVersion": watch.kind.api_version,
                    "metadata": {"resourceVersion": str(reached)},
                }})
                next_bookmark = time.monotonic() + self.bookmark_seconds
            if events:
                chunk = b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in events)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if reached is None:
                break
            since = reached
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _serve(self, request: Request, path: str) -> _Reply | _Watch:
        if path in _HEALTH_PATHS:
            return _Reply(200, "ok")
        routed = _FABRIC_PATH.match(path)
        if routed is None:
            return _Reply(404, _no_such_resource().status())
        fabric = routed["fabric"]
        if not self.store.has_fabric(fabric):
            return _Reply(404, status_body(404, "NotFound", f'fabric "{fabric}" is not served here'))
        if not self._authenticated(request, fabric):
            return _Reply(401, status_body(401, "Unauthorized", "Unauthorized"))
        rest = routed["rest"] or "/"
        try:
            for pattern, methods, handler in self._routes:
                found = pattern.match(rest)
                if found is None:
                    continue
                if request.method not in methods:
                    raise ApiError(
                        405,
                        "MethodNotAllowed",
                        "the server does not allow this method on the requested resource",
                    )
                call = _Call(
                    fabric=fabric,
                    method=request.method,
                    params=found.groupdict(),
                    query=request.query_params,
                    headers=request.headers,
                    body=await request.body(),
                    server_address=f"{HOST}:{request.url.port or ''}",
                )
                return handler(call)
            raise _no_such_resource()
        except ApiError as exc:
            return _Reply(exc.code, exc.status())
        except Exception as exc:  # a devlab bug must still answer like an API server, not hang the client
            _log.exception("devlab API server failed on %s %s", request.method, path)
            return _Reply(
                500, status_body(500, "InternalError", f"devlab API server error: {type(exc).__name__}")
            )

    def _continue_is_stale(self, request: Request) -> bool:
        routed = _FABRIC_PATH.match(request.url.path)
        token = request.query_params.get("continue")
        if routed is None or not token or not self.store.has_fabric(routed["fabric"]):
            return False
        try:
            snapshot, _ = _decode_continue(token)
        except ApiError:
            return False
        with self.store._lock:
            return self.store._fabric(routed["fabric"]).resource_version != snapshot

    def _authenticated(self, request: Request, fabric: str) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(token) and self.store.token_matches(fabric, token.strip())

    # -- discovery --
    def _version(self, call: _Call) -> _Reply:
        return _Reply(200, dict(SERVER_VERSION))

    def _core_versions(self, call: _Call) -> _Reply:
        return _Reply(
            200,
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": call.server_address}
                ],
            },
        )

    def _core_resources(self, call: _Call) -> _Reply:
        # Events only (always none): kubectl describe lists them, and discovery must not be empty.
        events = {"name": "events", "singularName": "event", "namespaced": True, "kind": "Event",
                  "verbs": ["list"]}
        return _Reply(
            200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [events]}
        )

    def _events(self, call: _Call) -> _Reply:
        version = str(self.store._fabric(call.fabric).resource_version)
        return _Reply(200, {"kind": "EventList", "apiVersion": "v1",
                            "metadata": {"resourceVersion": version}, "items": []})

    # -- OpenAPI v3: what kubectl reads to learn which PATCH types and query parameters a kind takes --
    def _openapi_paths(self, call: _Call) -> _Reply:
        paths = {}
        for group, version in self._served_groups(call.fabric).items():
            document = self._openapi_document(call.fabric, group, version)
            digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32].upper()
            paths[f"apis/{group}/{version}"] = {
                "serverRelativeURL": f"/fabrics/{call.fabric}/openapi/v3/apis/{group}/{version}?hash={digest}"
            }
        return _Reply(200, {"paths": paths})

    def _openapi_group_version(self, call: _Call) -> _Reply:
        group, version = call.params["group"], call.params["version"]
        if self._served_groups(call.fabric).get(group) != version:
            raise _no_such_resource()
        return _Reply(200, self._openapi_document(call.fabric, group, version))

    def _openapi_document(self, fabric: str, group: str, version: str) -> Obj:
        """Paths and loose schemas of a group's kinds, as a CRD's published OpenAPI (no strategic merge)."""
        paths: Obj = {}
        schemas: Obj = {}
        for kind in self.store.served_kinds(fabric):
            if (kind.group, kind.version) != (group, version):
                continue
            gvk = [{"group": group, "version": version, "kind": kind.kind}]
            schema_name = f"com.githedgehog.{group.split('.')[0]}.{version}.{kind.kind}"
            schemas[schema_name] = {
                "type": "object",
                "x-kubernetes-group-version-kind": gvk,
                "x-kubernetes-preserve-unknown-fields": True,
            }
            params = [
                {"name": name, "in": "query", "schema": {"type": "string"}}
                for name in ("dryRun", "fieldManager", "fieldValidation")
            ]
            body = {"content": {t: {"schema": {"type": "object"}} for t in (JSON_PATCH, MERGE_PATCH)}}
            ok = {"200": {"description": "OK"}}
            base = f"/apis/{group}/{version}/namespaces/{{namespace}}/{kind.plural}"
            for suffix in ("/{name}", "/{name}/status"):
                paths[base + suffix] = {
                    "get": {"x-kubernetes-group-version-kind": gvk[0], "responses": ok},
                    "put": {"x-kubernetes-group-version-kind": gvk[0], "parameters": params, "responses": ok},
                    "patch": {
                        "x-kubernetes-group-version-kind": gvk[0],
                        "parameters": params,
                        "requestBody": body,
                        "responses": ok,
                    },
                }
            paths[base] = {
                "get": {"x-kubernetes-group-version-kind": gvk[0], "responses": ok},
                "post": {"x-kubernetes-group-version-kind": gvk[0], "parameters": params, "responses": ok},
            }
        return {
            "openapi": "3.0.0",
            "info": {"title": "hedgehog-sync devlab", "version": SERVER_VERSION["gitVersion"]},
            "paths": paths,
            "components": {"schemas": schemas},
        }

    def _group_doc(self, group: str, version: str) -> Obj:
        entry = {"groupVersion": f"{group}/{version}", "version": version}
        return {"name": group, "versions": [entry], "preferredVersion": entry}

    def _served_groups(self, fabric: str) -> dict[str, str]:
        return {k.group: k.version for k in self.store.served_kinds(fabric)}

    def _groups(self, call: _Call) -> _Reply:
        groups = [self._group_doc(g, v) for g, v in self._served_groups(call.fabric).items()]
        return _Reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    def _group(self, call: _Call) -> _Reply:
        version = self._served_groups(call.fabric).get(call.params["group"])
        if version is None:
            raise _no_such_resource()
        return _Reply(
            200, {"kind": "APIGroup", "apiVersion": "v1", **self._group_doc(call.params["group"], version)}
        )

    def _resources(self, call: _Call) -> _Reply:
        group, version = call.params["group"], call.params["version"]
        kinds = [k for k in self.store.served_kinds(call.fabric) if (k.group, k.version) == (group, version)]
        if not kinds:
            raise _no_such_resource()
        resources: list[Obj] = []
        for kind in kinds:
            resources.append(
                {
                    "name": kind.plural,
                    "singularName": kind.kind.lower(),
                    "namespaced": True,
                    "kind": kind.kind,
                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                }
            )
            resources.append(
                {
                    "name": f"{kind.plural}/status",
                    "singularName": "",
                    "namespaced": True,
                    "kind": kind.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        return _Reply(
            200,
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}",
                "resources": resources,
            },
        )

    # -- resources --
    def _kind(self, call: _Call) -> ResourceKind:
        p = call.params
        return self.store.served_kind(call.fabric, p["group"], p["version"], p["plural"])

    def _list(self, call: _Call, kind: ResourceKind, namespace: str | None) -> _Reply | _Watch:
        if _true(call.query.get("watch")):
            return self._watch(call, kind, namespace)
        try:
            limit = int(call.query.get("limit") or 0)
            page = self.store.list_page(
                call.fabric,
                kind,
                namespace=namespace,
                limit=limit,
                continue_token=call.query.get("continue") or None,
                selector=call.query.get("labelSelector") or None,
                fields=call.query.get("fieldSelector") or None,
            )
        except ValueError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        return _Reply(200, page)

    def _watch(self, call: _Call, kind: ResourceKind, namespace: str | None) -> _Watch:
        """Validate a watch request (selectors, resourceVersion, timeoutSeconds) before streaming it."""
        try:
            if call.query.get("labelSelector"):
                label_selector(call.query["labelSelector"])
            if call.query.get("fieldSelector"):
                field_selector(call.query["fieldSelector"])
            version = call.query.get("resourceVersion") or ""
            since = int(version) if version not in ("", "0") else None
            seconds = float(call.query.get("timeoutSeconds") or 1800)
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"invalid watch request: {exc}") from None
        # A resourceVersion too old is answered in the stream (an ERROR event with a 410 Status), as the
        # API server's watch cache does.
        return _Watch(
            fabric=call.fabric,
            kind=kind,
            namespace=namespace,
            since=since,
            selector=call.query.get("labelSelector") or None,
            fields=call.query.get("fieldSelector") or None,
            bookmarks=_true(call.query.get("allowWatchBookmarks")),
            seconds=max(0.0, min(seconds, 1800.0)),
        )

    def _refuse_dry_run(self, call: _Call) -> None:
        # Serving a dry run as a real write would change state the caller meant to keep.
        if call.query.get("dryRun"):
            raise ApiError(400, "BadRequest", "dryRun is not supported by the devlab API server")

    def _collection(self, call: _Call) -> _Reply | _Watch:
        kind = self._kind(call)
        namespace = call.params["namespace"]
        if call.method == "GET":
            return self._list(call, kind, namespace)
        self._refuse_dry_run(call)
        if call.content_type != "application/json":
            raise ApiError(415, "UnsupportedMediaType", _accepted("application/json"))
        body = call.json()
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body is not a JSON object")
        return _Reply(
            201, self.store.create(call.fabric, body, kind=kind, namespace=namespace, manager=call.manager)
        )

    def _all_namespaces(self, call: _Call) -> _Reply | _Watch:
        return self._list(call, self._kind(call), None)

    def _item(self, call: _Call) -> _Reply:
        return self._object(call, subresource=None)

    def _status(self, call: _Call) -> _Reply:
        return self._object(call, subresource="status")

    def _object(self, call: _Call, subresource: str | None) -> _Reply:
        kind = self._kind(call)
        namespace, name = call.params["namespace"], call.params["name"]
        if call.method == "GET":
            found = self.store.get(call.fabric, kind.group, kind.plural, name, namespace=namespace)
            if found is None:
                raise _not_found(kind, name)
            return _Reply(200, found)
        self._refuse_dry_run(call)
        if call.method == "PUT":
            if call.content_type != "application/json":
                raise ApiError(415, "UnsupportedMediaType", _accepted("application/json"))
            body = call.json()
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the request body is not a JSON object")
            replaced = self.store.replace(
                call.fabric,
                kind,
                name,
                body,
                namespace=namespace,
                manager=call.manager,
                subresource=subresource,
            )
            return _Reply(200, replaced)
        if call.method == "PATCH":
            patched = self.store.patch(
                call.fabric,
                kind,
                name,
                call.json(),
                content_type=call.content_type,
                namespace=namespace,
                manager=call.manager,
                subresource=subresource,
            )
            return _Reply(200, patched)
        options = call.json() or {}
        preconditions = options.get("preconditions") if isinstance(options, dict) else None
        deleted = self.store.delete(
            call.fabric, kind.group, kind.plural, name, namespace=namespace, preconditions=preconditions
        )
        if deleted is None:
            raise _not_found(kind, name)
        return _Reply(200, deleted)  # custom resources answer a delete with the object, as it was

    # -- built-in objects of the cluster (Jobs, Pods, Secrets, ...), with a ClusterObjectStore --
    def _core_routes(
        self, cluster: ClusterObjectStore
    ) -> list[tuple[re.Pattern[str], tuple[str, ...], Callable[[_Call], _Reply]]]:
        routes: list[tuple[re.Pattern[str], tuple[str, ...], Callable[[_Call], _Reply]]] = [
            (_route("/api/v1/namespaces"), ("GET", "POST"), self._core_namespaces),
            (_route("/api/v1/namespaces/{name}"), ("GET", "DELETE"), self._core_namespace),
        ]
        for group, version in sorted({(k.group, k.version) for k in cluster.kinds if k.namespaced}):
            prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"

            def bound(
                handler: Callable[[_Call, str, str], _Reply], g: str = group, v: str = version
            ) -> Callable[[_Call], _Reply]:
                return lambda call: handler(call, g, v)

            namespaced = prefix + "/namespaces/{namespace}/{plural}"
            routes += [
                (_route(namespaced), ("GET", "POST"), bound(self._core_collection)),
                (_route(namespaced + "/{name}"), ("GET", "DELETE"), bound(self._core_item)),
                (_route(namespaced + "/{name}/status"), ("GET",), bound(self._core_item)),
                (_route(prefix + "/{plural}"), ("GET",), bound(self._core_all_namespaces)),
            ]
        return routes

    def _core_kind(self, call: _Call, group: str, version: str, *, namespaced: bool = True) -> CoreKind:
        assert self.cluster is not None
        kind = self.cluster.kind(group, version, call.params["plural"])
        if kind.namespaced != namespaced:
            raise _no_such_resource()
        return kind

    def _core_list(self, call: _Call, kind: CoreKind, namespace: str | None) -> _Reply:
        assert self.cluster is not None
        if call.query.get("watch") in ("true", "1"):
            raise ApiError(400, "BadRequest", "watch is not supported by the devlab API server")
        if call.query.get("fieldSelector"):
            raise ApiError(400, "BadRequest", "fieldSelector is not supported by the devlab API server")
        try:
            selector = call.query.get("labelSelector") or None
            body = self.cluster._list_body(call.fabric, kind, namespace, selector)
        except ValueError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        return _Reply(200, body)

    def _core_create(self, call: _Call, kind: CoreKind, namespace: str) -> _Reply:
        assert self.cluster is not None
        self._refuse_dry_run(call)
        if call.content_type != "application/json":
            raise ApiError(415, "UnsupportedMediaType", _accepted("application/json"))
        body = call.json()
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body is not a JSON object")
        return _Reply(201, self.cluster._create(call.fabric, kind, body, namespace))

    def _core_delete(self, call: _Call, kind: CoreKind, namespace: str, name: str) -> _Reply:
        assert self.cluster is not None
        self._refuse_dry_run(call)
        options = call.json() or {}
        policy = call.query.get("propagationPolicy") or (
            options.get("propagationPolicy") if isinstance(options, dict) else None
        )
        deleted = self.cluster._delete(call.fabric, kind, namespace, name, cascade=policy != "Orphan")
        if deleted is None:
            raise _core_not_found(kind, name)
        details = _core_details(kind, name, deleted["metadata"].get("uid"))
        return _Reply(200, status_body(200, "", "", details))

    def _core_collection(self, call: _Call, group: str, version: str) -> _Reply:
        kind = self._core_kind(call, group, version)
        if call.method == "GET":
            return self._core_list(call, kind, call.params["namespace"])
        return self._core_create(call, kind, call.params["namespace"])

    def _core_item(self, call: _Call, group: str, version: str) -> _Reply:
        assert self.cluster is not None
        kind = self._core_kind(call, group, version)
        namespace, name = call.params["namespace"], call.params["name"]
        if call.method == "DELETE":
            return self._core_delete(call, kind, namespace, name)
        found = self.cluster._get(call.fabric, kind, namespace, name)
        if found is None:
            raise _core_not_found(kind, name)
        return _Reply(200, found)

    def _core_all_namespaces(self, call: _Call, group: str, version: str) -> _Reply:
        assert self.cluster is not None
        return self._core_list(call, self.cluster.kind(group, version, call.params["plural"]), None)

    def _core_namespaces(self, call: _Call) -> _Reply:
        assert self.cluster is not None
        kind = self.cluster.kind("", "v1", "namespaces")
        if call.method == "GET":
            return self._core_list(call, kind, None)
        return self._core_create(call, kind, "")

    def _core_namespace(self, call: _Call) -> _Reply:
        assert self.cluster is not None
        kind, name = self.cluster.kind("", "v1", "namespaces"), call.params["name"]
        if call.method == "DELETE":
            return self._core_delete(call, kind, "", name)
        found = self.cluster._get(call.fabric, kind, "", name)
        if found is None and name in _BUILT_IN_NAMESPACES:
            found = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name},
                "status": {"phase": "Active"},
            }
        if found is None:
            raise _core_not_found(kind, name)
        return _Reply(200, found)


def _true(value: str | None) -> bool:
    """A boolean query parameter, read as Go's strconv.ParseBool reads it on the API server."""
    return value in ("1", "t", "T", "true", "TRUE", "True")


def _fault_reply(status: int, retry_after: float | str | None) -> _Reply:
    """The Status a fault rule answers, with Retry-After as a 429 or 503 of the API server sends it."""
    body = status_body(status)
    headers: dict[str, str] = {}
    if isinstance(retry_after, (int, float)):
        headers["Retry-After"] = (
            str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
        )
        body["details"] = {"retryAfterSeconds": int(retry_after)}
    elif retry_after is not None:
        headers["Retry-After"] = retry_after  # an HTTP date, or a deliberately malformed value
    return _Reply(status, body, headers)


async def _send(send: Callable[..., Any], reply: _Reply, action: str | None) -> None:
    """Send a reply, or a broken version of it when a fault rule says so."""
    body, content_type = reply.encoded()
    if action == "truncate":
        body = body[: len(body) // 2]
    elif action == "garbage":
        body, content_type = b"<html><body>502 Bad Gateway</body></html>", "application/json"
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
    await send({"type": "http.response.start", "status": reply.code, "headers": headers})
    if action == "drop":
        return  # the server closes the connection with the body promised and never sent
    await send({"type": "http.response.body", "body": body})


def create_app(
    store: FabricStore, faults: FaultRules | None = None, cluster: ClusterObjectStore | None = None
) -> DevlabApp:
    """The ASGI application serving a store's fabrics (and, with `cluster`, their built-in objects)."""
    return DevlabApp(store, faults, cluster)


# --- kubeconfigs and objects --------------------------------------------------------------------
def write_kubeconfig(
    path: str | os.PathLike[str],
    server_url: str,
    token: str,
    context_name: str,
    namespace: str = NAMESPACE,
    *,
    ca_pem: bytes | None = None,
    client_certificate: IssuedCertificate | None = None,
) -> Path:
    """Write a kubeconfig (mode 0600) with one context whose user authenticates with a bearer token.

    `ca_pem` is the CA an https:// server's certificate is checked against (`certificate-authority-data`);
    `client_certificate`, if given, is presented too (`client-certificate-data`, `client-key-data`).
    """
    cluster: Obj = {"server": server_url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode("ascii")
    user: Obj = {"token": token}
    if client_certificate is not None:
        user["client-certificate-data"] = base64.b64encode(client_certificate.cert_pem).decode("ascii")
        user["client-key-data"] = base64.b64encode(client_certificate.key_pem).decode("ascii")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context_name, "cluster": cluster}],
        "users": [{"name": f"{context_name}-user", "user": user}],
        "contexts": [
            {
                "name": context_name,
                "context": {"cluster": context_name, "user": f"{context_name}-user", "namespace": namespace},
            }
        ],
        "current-context": context_name,
        "preferences": {},
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        yaml.safe_dump(config, out, sort_keys=False)
    os.chmod(target, 0o600)  # an existing file keeps its old mode through O_CREAT
    return target


def new_object(
    kind: str,
    name: str,
    spec: Obj | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    namespace: str = NAMESPACE,
) -> Obj:
    """A minimal Hedgehog object of a known kind, e.g. new_object("VPC", "vpc-1", {...})."""
    known = next((k for k in KINDS if k.kind == kind), None)
    if known is None:
        raise ValueError(f"{kind!r} is not a Hedgehog kind")
    metadata: Obj = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": known.api_version,
        "kind": kind,
        "metadata": metadata,
        "spec": copy.deepcopy(spec or {}),
    }


# --- TLS ----------------------------------------------------------------------------------------
# Real fabrics serve HTTPS: so does the devlab, with a CA of its own, made per devlab by `cryptography`.
_TLS_HOSTS = (HOST, "localhost")


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate and its private key, both PEM. The key is for this process's TLS only."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)


@dataclass(frozen=True)
class DevlabCA:
    """A certificate authority made for one devlab: it signs the server's certificate and clients'."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)

    @classmethod
    def generate(cls, name: str = "hedgehog-sync devlab CA") -> DevlabCA:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(_cert_pem(cert), _key_pem(key))

    def issue(
        self,
        common_name: str,
        *,
        hosts: Sequence[str] = (),
        client: bool = False,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> IssuedCertificate:
        """A leaf certificate: for a server naming `hosts` (IP addresses or DNS names), or a client."""
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        ca_cert = x509.load_pem_x509_certificate(self.cert_pem)
        ca_key = serialization.load_pem_private_key(self.key_pem, password=None)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(timezone.utc)
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - timedelta(hours=1))
            .not_valid_after(not_after or now + timedelta(days=825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        return IssuedCertificate(_cert_pem(cert), _key_pem(key))


def _cert_pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class ServerTLS:
    """How a devlab API server speaks TLS: its CA, its own certificate, and whose client certificates it takes.

    A client certificate is optional (fabrics authenticate by bearer token); one that `client_ca`
    did not sign ends the handshake, as a real API server's `--client-ca-file` does.
    """

    ca: DevlabCA
    certificate: IssuedCertificate
    client_ca: DevlabCA | None = None

    @classmethod
    def generate(cls) -> ServerTLS:
        """A new CA and a certificate for 127.0.0.1 and localhost; the CA also signs client certificates."""
        ca = DevlabCA.generate()
        return cls(ca, ca.issue("hedgehog-sync devlab API server", hosts=_TLS_HOSTS), ca)

    def context(self) -> ssl.SSLContext:
        """The server's SSLContext (TLS 1.2 or later)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # The ssl module loads a certificate chain from files only: a private directory, removed at once.
        with tempfile.TemporaryDirectory(prefix="devlab-tls-") as scratch:
            cert_file, key_file = Path(scratch) / "tls.crt", Path(scratch) / "tls.key"
            for target, data in ((cert_file, self.certificate.cert_pem), (key_file, self.certificate.key_pem)):
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
            context.load_cert_chain(cert_file, key_file)
        if self.client_ca is not None:
            context.verify_mode = ssl.CERT_OPTIONAL
            context.load_verify_locations(cadata=self.client_ca.cert_pem.decode("ascii"))
        return context


# --- running it ---------------------------------------------------------------------------------
def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    return sock


def _uvicorn_server(app: DevlabApp, tls: ServerTLS | None) -> uvicorn.Server:
    context = tls.context() if tls is not None else None
    config = uvicorn.Config(
        app,
        host=HOST,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        ssl_context_factory=(lambda _config, _default: context) if context is not None else None,
    )
    return uvicorn.Server(config)


class _Autosaver:
    """Saves a store to its state file every `interval` seconds when it changed, and once at the end."""

    def __init__(self, store: FabricStore, path: Path, interval: float = 1.0):
        self._store, self._path, self._interval = store, path, interval
        self._saved = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="devlab-apiserver-autosave", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.save()

    def save(self) -> None:
        changes = self._store.changes
        if changes != self._saved:
            self._store.save(self._path)
            self._saved = changes

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.save()


class ApiServerHandle:
    """A devlab API server running in a background thread; stop it, or use it as a context manager."""

    def __init__(
        self,
        server: uvicorn.Server,
        thread: threading.Thread,
        sock: socket.socket,
        app: DevlabApp,
        autosaver: _Autosaver | None,
        tls: ServerTLS | None = None,
    ):
        self._server, self._thread, self._sock, self._autosaver = server, thread, sock, autosaver
        self.app = app
        self.tls = tls
        self.port: int = sock.getsockname()[1]
        self.url = f"{'https' if tls is not None else 'http'}://{HOST}:{self.port}"

    @property
    def store(self) -> FabricStore:
        return self.app.store

    @property
    def faults(self) -> FaultRules:
        return self.app.faults

    @property
    def cluster(self) -> ClusterObjectStore | None:
        return self.app.cluster

    @property
    def ca_pem(self) -> bytes | None:
        """The CA (PEM) this server's certificate is checked against; None when it serves plain HTTP."""
        return self.tls.ca.cert_pem if self.tls is not None else None

    def fabric_url(self, fabric: str) -> str:
        """The `server:` URL of a fabric's kubeconfig."""
        return f"{self.url}/fabrics/{fabric}"

    def write_kubeconfig(
        self,
        fabric: str,
        path: str | os.PathLike[str],
        context: str | None = None,
        *,
        client_certificate: IssuedCertificate | None = None,
    ) -> Path:
        """Write a kubeconfig for one fabric of this server (trusting its CA); the context is named after the fabric."""
        token = self.store.token(fabric)
        if token is None:
            raise ValueError(f"fabric {fabric} has no token")
        return write_kubeconfig(
            path, self.fabric_url(fabric), token, context or fabric, ca_pem=self.ca_pem,
            client_certificate=client_certificate,
        )

    def client_certificate(self, user: str = "devlab-user") -> IssuedCertificate:
        """A client certificate this server accepts (signed by its client CA)."""
        if self.tls is None or self.tls.client_ca is None:
            raise ValueError("this devlab API server takes no client certificates")
        return self.tls.client_ca.issue(user, client=True)

    def stop(self) -> None:
        """Stop serving (idempotent); afterwards connections to the port are refused."""
        self.app.stopping.set()
        self._server.should_exit = True
        self._close_idle_tls_connections()
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        self._sock.close()
        if self._autosaver is not None:
            self._autosaver.stop()
            self._autosaver = None

    def _close_idle_tls_connections(self) -> None:
        """Close idle keep-alive connections at once: a TLS close otherwise waits for the client's answer."""
        if self.tls is None:
            return
        for connection in list(self._server.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            transport, loop = getattr(connection, "transport", None), getattr(connection, "loop", None)
            if transport is not None and loop is not None and (cycle is None or cycle.response_complete):
                try:
                    loop.call_soon_threadsafe(transport.abort)
                except RuntimeError:  # the loop has already closed
                    pass

    def __enter__(self) -> ApiServerHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_apiserver(
    store: FabricStore,
    *,
    port: int = 0,
    faults: FaultRules | None = None,
    state_path: str | os.PathLike[str] | None = None,
    ready_timeout: float = 10.0,
    cluster: ClusterObjectStore | None = None,
    tls: ServerTLS | None = None,
    plain_http: bool = False,
) -> ApiServerHandle:
    """Serve a store on 127.0.0.1 (port 0 = a free port) in a background thread, once it accepts requests.

    It speaks HTTPS with `tls`, by default a CA and certificate made now (`handle.tls`, written into
    every kubeconfig the handle writes); plain HTTP only with `plain_http=True`.
    With `cluster`, every served name also answers for built-in objects (Jobs, Secrets, ...) kept there.
    """
    if plain_http and tls is not None:
        raise ValueError("plain_http=True and tls are exclusive")
    if not plain_http and tls is None:
        tls = ServerTLS.generate()
    app = create_app(store, faults, cluster)
    sock = _listening_socket(port)
    server = _uvicorn_server(app, tls)
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [sock]},
        name=f"devlab-apiserver-{sock.getsockname()[1]}",
        daemon=True,
    )
    autosaver = _Autosaver(store, Path(state_path)) if state_path is not None else None
    thread.start()
    deadline = time.monotonic() + ready_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the devlab API server did not start")
        time.sleep(0.005)
    if autosaver is not None:
        autosaver.start()
    return ApiServerHandle(server, thread, sock, app, autosaver, tls)


@dataclass
class ServedFabric:
    """How the foreground server serves one fabric (from --fabric or a --fabrics YAML file)."""

    name: str
    groups: list[str] | None = None
    token_env: str | None = None
    token_file: str | None = None

    def token(self) -> str | None:
        """The configured token, or None when the server should generate one."""
        if self.token_env:
            value = os.environ.get(self.token_env)
            if not value:
                raise ValueError(f"fabric {self.name}: environment variable {self.token_env} is not set")
            return value.strip()
        if self.token_file:
            return Path(self.token_file).read_text(encoding="utf-8").strip()
        return None


def read_served_fabrics(path: str | os.PathLike[str]) -> list[ServedFabric]:
    """Parse `fabrics: [{name, groups?, token_env?, token_file?}]` from YAML; unknown keys are errors."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    entries = document.get("fabrics") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a top-level `fabrics:` list")
    allowed = {"name", "groups", "token_env", "token_file"}
    specs = []
    for index, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or "name" not in entry:
            raise ValueError(f"{path}: fabric entry {index} needs a name")
        unknown = set(entry) - allowed
        if unknown:
            raise ValueError(f"{path}: fabric {entry['name']}: unknown keys {sorted(unknown)}")
        specs.append(ServedFabric(**entry))
    return specs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hedgehog-sync devlab apiserver",
        description="Serve devlab Hedgehog fabrics over the Kubernetes REST protocol on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = a free port)")
    parser.add_argument("--state", type=Path, help="JSON file holding live state across restarts")
    parser.add_argument(
        "--fabric",
        action="append",
        default=[],
        metavar="NAME",
        help="serve a fabric with every group and a generated token (repeatable)",
    )
    parser.add_argument(
        "--fabrics",
        type=Path,
        metavar="FILE",
        help="YAML file: fabrics: [{name, groups, token_env, token_file}]",
    )
    parser.add_argument(
        "--kubeconfig-dir",
        type=Path,
        help="write <fabric>.kubeconfig (trusting this server's CA) and ca.crt here",
    )
    parser.add_argument(
        "--plain-http",
        action="store_true",
        help="serve plain HTTP instead of HTTPS with a CA made at start (kubectl then sends no token)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the devlab API server in the foreground until interrupted; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        specs = [ServedFabric(name) for name in args.fabric] + (
            read_served_fabrics(args.fabrics) if args.fabrics else []
        )
        if not specs:
            raise ValueError("name at least one fabric with --fabric or --fabrics")
        tokens = {spec.name: spec.token() for spec in specs}
        if any(token is None for token in tokens.values()) and args.kubeconfig_dir is None:
            raise ValueError("--kubeconfig-dir is required when a fabric's token is generated")
        store = FabricStore()
        if args.state is not None and args.state.exists():
            store.load(args.state)
        for spec in specs:
            store.add_fabric(spec.name, tokens[spec.name] or secrets.token_urlsafe(32), spec.groups)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tls = None if args.plain_http else ServerTLS.generate()
    scheme = "http" if tls is None else "https"
    sock = _listening_socket(args.port)
    port = sock.getsockname()[1]
    print(f"devlab API server listening on {scheme}://{HOST}:{port}", flush=True)
    if tls is not None and args.kubeconfig_dir is not None:
        args.kubeconfig_dir.mkdir(parents=True, exist_ok=True)
        (args.kubeconfig_dir / "ca.crt").write_bytes(tls.ca.cert_pem)
    for spec in specs:
        line = f"fabric {spec.name}: {scheme}://{HOST}:{port}/fabrics/{spec.name}"
        if args.kubeconfig_dir is not None:
            written = write_kubeconfig(
                args.kubeconfig_dir / f"{spec.name}.kubeconfig",
                f"{scheme}://{HOST}:{port}/fabrics/{spec.name}",
                store.token(spec.name) or "",
                spec.name,
                ca_pem=tls.ca.cert_pem if tls is not None else None,
            )
            line += f" (kubeconfig {written}, context {spec.name})"
        print(line, flush=True)
    autosaver = _Autosaver(store, args.state) if args.state is not None else None
    if autosaver is not None:
        autosaver.start()
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler found
    # before it started: make that an exception, so the state is saved rather than the process killed.
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    try:
        _uvicorn_server(create_app(store), tls).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if autosaver is not None:
            autosaver.stop()
    return 0


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
