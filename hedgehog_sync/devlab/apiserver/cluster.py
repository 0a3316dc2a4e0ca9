"""Built-in objects of a served cluster (Namespaces, Secrets, Jobs, ...): ClusterObjectStore."""

from __future__ import annotations

import base64
import binascii
import copy
import secrets
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from hedgehog_sync.domain.model import Obj

from hedgehog_sync.devlab.apiserver.constants import NAMESPACE, _FABRIC_NAME, _OBJECT_NAME, _SERVER_METADATA
from hedgehog_sync.devlab.apiserver.errors import ApiError, _no_such_resource
from hedgehog_sync.devlab.apiserver.selectors import label_selector
from hedgehog_sync.devlab.apiserver.store import _now


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
