"""The live objects of the devlab fabrics: FabricStore, its REST verbs, history and persistence."""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import json
import os
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hedgehog_sync.domain.kinds import KINDS, ResourceKind, split_api_version
from hedgehog_sync.domain.model import Obj

from hedgehog_sync.devlab.apiserver.constants import (
    JSON_PATCH,
    MERGE_PATCH,
    NAMESPACE,
    WATCH_HISTORY,
    _FABRIC_NAME,
    _OBJECT_NAME,
    _SERVER_METADATA,
)
from hedgehog_sync.devlab.apiserver.errors import (
    ApiError,
    _accepted,
    _conflict,
    _details,
    _invalid,
    _no_such_resource,
    _not_found,
    _resource_label,
)
from hedgehog_sync.devlab.apiserver.patch import json_patch, merge_patch
from hedgehog_sync.devlab.apiserver.selectors import field_selector, label_selector


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
