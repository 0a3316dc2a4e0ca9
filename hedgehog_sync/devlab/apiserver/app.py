"""The ASGI application: fault rules, fabric routing, bearer authentication, REST verbs and watches."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from hedgehog_sync.domain.kinds import ResourceKind
from hedgehog_sync.domain.model import Obj

from hedgehog_sync.devlab.apiserver.cluster import (
    ClusterObjectStore,
    CoreKind,
    _BUILT_IN_NAMESPACES,
    _core_details,
    _core_not_found,
)
from hedgehog_sync.devlab.apiserver.constants import HOST, JSON_PATCH, MERGE_PATCH, SERVER_VERSION
from hedgehog_sync.devlab.apiserver.errors import (
    ApiError,
    _accepted,
    _no_such_resource,
    _not_found,
    status_body,
)
from hedgehog_sync.devlab.apiserver.faults import FaultRules
from hedgehog_sync.devlab.apiserver.selectors import field_selector, label_selector
from hedgehog_sync.devlab.apiserver.store import FabricStore, _decode_continue

_log = logging.getLogger(__name__)


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
        if _true(call.query.get("watch")):
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
