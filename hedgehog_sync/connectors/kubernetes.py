"""Read a fabric's live Hedgehog resources from its Kubernetes API server with the official client.

An API server, and whatever sits between it and us, is untrusted input (docs/contracts.md#untrusted-input). Every
list is read under budgets enforced while reading, never after: bytes per response and per fabric,
pages per kind, objects per fabric, no continue token twice, and a total deadline per request (from
connect through TLS, headers and the last body byte) and per fabric read. The body is read raw in
bounded chunks and decoded here; a content encoding we did not ask for is refused unread, so a
compressed bomb is never inflated. `BUDGETS` below is the table of every budget, its default and
the env var that raises it; docs/reliability.md shows the same table.

Credentials read from a kubeconfig or token file are trimmed as kubectl and client-go trim them
and registered with domain/redaction, so no output can carry them; no exception text leaving this
module holds a header value or a response body.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import math
import os
import socket
import ssl
import stat
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.client import HTTPException, RemoteDisconnected
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import (
    SERVICE_CERT_FILENAME,
    SERVICE_HOST_ENV_NAME,
    SERVICE_TOKEN_FILENAME,
    InClusterConfigLoader,
)
from kubernetes.config.kube_config import ConfigNode, KubeConfigLoader, KubeConfigMerger

from hedgehog_sync.domain.errors import (
    BudgetExceededError,
    ClusterConfigError,
    ClusterTimeoutError,
    ClusterUnreachableError,
    HedgehogSyncError,
    TransientError,
    error_for_http_status,
)
from hedgehog_sync.domain.kinds import KINDS, ResourceKind
from hedgehog_sync.domain.model import Finding, LiveState, Obj
from hedgehog_sync.domain.redaction import redact, register_secret, safe_url

DEFAULT_NAMESPACE = "default"
DEFAULT_PAGE_SIZE = 500
DEFAULT_TIMEOUT_SECONDS = 30.0
# Operators (and the fault tests) may change the per-request deadline without code.
TIMEOUT_ENV = "HEDGEHOG_SYNC_KUBERNETES_TIMEOUT_SECONDS"
# Shows up in the API server's audit log and managedFields, so operators can tell who read.
USER_AGENT = "hedgehog-sync"
_PLUGIN_KEYS = ("exec", "auth-provider")
_MiB = 1024 * 1024


# --- budgets ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Budget:
    """One limit on what reading a cluster may cost: its name, default and the env var that sets it."""

    name: str  # as errors name it, e.g. "kubernetes.max_response_bytes"
    env: str
    default: float
    unit: str
    meaning: str


# The table (docs/reliability.md repeats it). Defaults fit real fabrics with room to spare: the
# largest objects are Agents (tens of KB of status), pages hold 500 objects.
BUDGETS: dict[str, Budget] = {
    b.name.split(".", 1)[1]: b
    for b in (
        Budget("kubernetes.request_deadline_seconds", TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS, "s",
               "total time of one API request: connect, TLS handshake, headers and the whole body"),
        Budget("kubernetes.fabric_deadline_seconds", "HEDGEHOG_SYNC_KUBERNETES_FABRIC_DEADLINE_SECONDS",
               300.0, "s", "total time of one fabric's live read, every kind and page"),
        Budget("kubernetes.max_response_bytes", "HEDGEHOG_SYNC_KUBERNETES_MAX_RESPONSE_BYTES",
               32 * _MiB, "bytes", "body bytes of one API response (one page of a list)"),
        Budget("kubernetes.max_fabric_bytes", "HEDGEHOG_SYNC_KUBERNETES_MAX_FABRIC_BYTES",
               128 * _MiB, "bytes", "body bytes of all responses of one fabric's live read"),
        Budget("kubernetes.max_pages_per_kind", "HEDGEHOG_SYNC_KUBERNETES_MAX_PAGES_PER_KIND",
               1000, "pages", "pages of one kind's list"),
        Budget("kubernetes.max_objects", "HEDGEHOG_SYNC_KUBERNETES_MAX_OBJECTS",
               100_000, "objects", "objects of one fabric, every kind together"),
        Budget("kubernetes.max_depth", "HEDGEHOG_SYNC_KUBERNETES_MAX_DEPTH",
               64, "levels", "nesting of one live object (as the Git side's YAML nesting budget)"),
        Budget("kubernetes.max_kubeconfig_bytes", "HEDGEHOG_SYNC_KUBERNETES_MAX_KUBECONFIG_BYTES",
               1 * _MiB, "bytes", "bytes read of each kubeconfig file"),
        Budget("kubernetes.max_token_file_bytes", "HEDGEHOG_SYNC_KUBERNETES_MAX_TOKEN_FILE_BYTES",
               64 * 1024, "bytes", "bytes read of a tokenFile or the in-cluster token file"),
    )
}
# Not numbers, so not settable: a continue token the server already sent (a paging loop), and a
# content or transfer encoding we did not ask for (we send Accept-Encoding: identity).
REPEATED_CONTINUE = "kubernetes.repeated_continue_token"
CONTENT_ENCODING = "kubernetes.content_encoding"


def budget_value(key: str, override: float | None = None) -> float:
    """A budget's value: `override` if given, else its env var if set to a positive number, else the default."""
    budget = BUDGETS[key]
    if override is not None:
        return override
    try:
        value = float(os.environ.get(budget.env) or budget.default)
    except ValueError:
        return budget.default
    return value if math.isfinite(value) and value > 0 else budget.default


@dataclass(frozen=True)
class ReadBudgets:
    """The budgets of one fabric's live read (see BUDGETS); from_env() reads the env vars."""

    request_deadline_seconds: float = BUDGETS["request_deadline_seconds"].default
    fabric_deadline_seconds: float = BUDGETS["fabric_deadline_seconds"].default
    max_response_bytes: int = int(BUDGETS["max_response_bytes"].default)
    max_fabric_bytes: int = int(BUDGETS["max_fabric_bytes"].default)
    max_pages_per_kind: int = int(BUDGETS["max_pages_per_kind"].default)
    max_objects: int = int(BUDGETS["max_objects"].default)
    max_depth: int = int(BUDGETS["max_depth"].default)

    @classmethod
    def from_env(cls, **overrides: float | None) -> ReadBudgets:
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = budget_value(f.name, overrides.get(f.name))
            values[f.name] = float(value) if f.name.endswith("_seconds") else int(value)
        return cls(**values)


def _over(key: str, value: float, where: str, what: str) -> str:
    """The sentence an exceeded budget ends with: which, how much, and how to raise it."""
    budget = BUDGETS[key]
    shown = f"{value:g}" if budget.unit == "s" else f"{int(value)}"
    return (f"{where}: {what}, over the budget {budget.name} = {shown} {budget.unit}; "
            f"raise it with {budget.env} if this fabric really needs more")


def _budget_error(key: str, value: float, where: str, what: str) -> BudgetExceededError:
    return BudgetExceededError(_over(key, value, where, what), budget=BUDGETS[key].name)


def _deadline_error(key: str, value: float, where: str, what: str) -> ClusterTimeoutError:
    # A deadline is a timeout: recovery retries it like any other (the class stays ClusterTimeoutError).
    error = ClusterTimeoutError(_over(key, value, where, what))
    error.budget = BUDGETS[key].name  # type: ignore[attr-defined]
    return error


# --- bounded files ------------------------------------------------------------------------------
def read_capped_file(path: str, key: str, what: str) -> bytes:
    """At most the budget's bytes of a regular file; a FIFO, device or larger file is a clear error."""
    cap = int(budget_value(key))
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ClusterConfigError(f"{what} could not be read: {(exc.strerror or 'error').lower()}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ClusterConfigError(f"{what} is not a regular file (a FIFO, device or folder); refused unread")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(64 * 1024, cap + 1 - total))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise ClusterConfigError(_over(key, cap, what, f"holds more than {cap} bytes"))
    finally:
        os.close(fd)


def _token_text(raw: bytes, what: str) -> str:
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:  # its repr holds the bytes: never let it ride along as a context
        text = None
    if text is None:
        raise ClusterConfigError(f"{what} is not UTF-8 text")
    return _checked_token(text, what)


def _checked_token(value: Any, what: str) -> str:
    """The token trimmed as kubectl does and registered as a secret; refused if it cannot be a header."""
    if not isinstance(value, str):
        raise ClusterConfigError(f"{what}: the token is not a string")
    token = register_secret(value) or ""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in token):
        raise ClusterConfigError(f"{what}: the token holds a line break or control character inside it; "
                                 "it cannot be sent as an HTTP header")
    return token


# --- clients ------------------------------------------------------------------------------------
# Connection-level retries only. Waiting out a 429 or a 5xx is the Dagster retry policy's job:
# urllib3's default would sleep on Retry-After inside the read and hide the status from us.
# Redirects are not followed: an API server that redirects is misconfigured.
class _TransportRetry(urllib3.Retry):
    """urllib3's Retry, except that a read timeout is never retried: the server was asked and did not
    answer in time, and trying again at once would double the time limit the caller set. The read
    retry stays for what it is there for: a kept-alive connection the server had already closed."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if isinstance(error, urllib3.exceptions.ReadTimeoutError):
            raise urllib3.exceptions.MaxRetryError(_pool, url, error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


TRANSPORT_RETRIES = _TransportRetry(
    total=None, connect=2, read=1, redirect=False, status=0, other=0, respect_retry_after_header=False
)


def api_client_for(
    kubeconfig: str | os.PathLike[str] | None,
    context: str | None = None,
    *,
    allow_exec: bool = False,
) -> k8s_client.ApiClient:
    """A client for one fabric's API server, from its kubeconfig and context.

    With kubeconfig None: the in-cluster service account if there is one, else $KUBECONFIG,
    else ~/.kube/config.

    The library's global default configuration is never touched: many fabrics share one process.
    Users authenticating with an `exec` or `auth-provider` plugin are refused unless allow_exec,
    because loading them runs a program named in the file. Each kubeconfig file is read up to
    kubernetes.max_kubeconfig_bytes; tokens (inline or tokenFile) are trimmed and registered secrets.
    """
    if kubeconfig is None and _in_cluster_available():
        return _in_cluster_client()
    source = (
        os.fspath(kubeconfig) if kubeconfig is not None else os.environ.get("KUBECONFIG") or "~/.kube/config"
    )
    return _kubeconfig_client(source, context, allow_exec)


def _in_cluster_available() -> bool:
    return bool(os.environ.get(SERVICE_HOST_ENV_NAME)) and os.path.isfile(SERVICE_TOKEN_FILENAME)


class _InClusterLoader(InClusterConfigLoader):
    """The library's in-cluster loader (it re-reads the rotated token every minute), with the token file
    read under its budget, trimmed and registered as a secret."""

    def _read_token_file(self) -> None:
        what = f"in-cluster token file {self._token_filename}"
        token = _token_text(read_capped_file(self._token_filename, "max_token_file_bytes", what), what)
        if not token:
            raise ConfigException("Token file exists but empty.")
        self.token = f"Bearer {token}"
        self.token_expires_at = datetime.now() + self._token_refresh_period


def _in_cluster_client(
    token_filename: str = SERVICE_TOKEN_FILENAME,
    cert_filename: str = SERVICE_CERT_FILENAME,
    environ: Mapping[str, str] | None = None,
) -> k8s_client.ApiClient:
    configuration = k8s_client.Configuration()
    loader = _InClusterLoader(token_filename, cert_filename, environ=os.environ if environ is None else environ)
    error: HedgehogSyncError | None = None
    try:
        loader.load_and_set(configuration)
    except ConfigException as exc:
        error = ClusterConfigError(f"in-cluster Kubernetes configuration could not be loaded: {exc}")
    except HedgehogSyncError as exc:
        error = exc
    if error is not None:
        raise _alone(error)
    return _client(configuration)


def _alone(error: HedgehogSyncError) -> HedgehogSyncError:
    """The error without the exceptions it was raised while handling: their text (a YAML snippet, a
    decoder's bytes) may quote a credential. Raise the result outside any except block."""
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    return error


def _client(configuration: k8s_client.Configuration) -> k8s_client.ApiClient:
    configuration.retries = TRANSPORT_RETRIES
    api_client = k8s_client.ApiClient(configuration)
    api_client.user_agent = USER_AGENT
    manager = api_client.rest_client.pool_manager
    # Every connection this client opens can be ended by a request's deadline (see _Watch).
    manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
    return api_client


class _CappedKubeConfigMerger(KubeConfigMerger):
    """The library's merger of a KUBECONFIG list, reading each file under its byte budget."""

    def load_config(self, path: str) -> None:
        raw = read_capped_file(path, "max_kubeconfig_bytes", f"kubeconfig {path}")
        config = yaml.safe_load(raw)
        if not isinstance(config, dict):
            raise ClusterConfigError(f"kubeconfig {path} holds no configuration")
        if self.config_merged is None:
            config_merged = {k: v for k, v in config.items()}
            for item in ("clusters", "contexts", "users"):
                config_merged[item] = []
            self.config_merged = ConfigNode(path, config_merged, path)
        for item in ("clusters", "contexts", "users"):
            entries = config.get(item, []) or []
            if not isinstance(entries, list) or not all(isinstance(e, dict) and "name" in e for e in entries):
                raise ClusterConfigError(f"kubeconfig {path}: {item} is not a list of named entries")
            self._merge(item, entries, path)
        if "current-context" in config:
            self.config_merged.value["current-context"] = config["current-context"]
        self.config_files[path] = config


def _kubeconfig_client(source: str, context: str | None, allow_exec: bool) -> k8s_client.ApiClient:
    try:
        return _load_kubeconfig_client(source, context, allow_exec)
    except HedgehogSyncError as exc:
        error = exc
    except Exception as exc:  # a malformed file trips the library in many ways: name the class only
        error = ClusterConfigError(f"kubeconfig {source} is malformed ({type(exc).__name__})")
    raise _alone(error)


def _load_kubeconfig_client(source: str, context: str | None, allow_exec: bool) -> k8s_client.ApiClient:
    paths = [os.path.expanduser(p) for p in source.split(os.pathsep) if p]
    # Like kubectl, a KUBECONFIG list may name files that do not exist, but not only such files.
    if not any(os.path.exists(p) for p in paths):
        raise ClusterConfigError(f"kubeconfig {source} not found")
    merged = _merged_kubeconfig(source)
    where = (
        f"kubeconfig {source}, context {context!r}" if context else f"kubeconfig {source}, current context"
    )
    names = [str(c["name"]) for c in (merged.safe_get("contexts") or []) if "name" in c]
    if context is not None and context not in names:
        raise ClusterConfigError(
            f"kubeconfig {source} has no context {context!r} (it has: {', '.join(names) or 'none'})"
        )
    if context is None and not merged.safe_get("current-context"):
        raise ClusterConfigError(f"kubeconfig {source} sets no current-context; name a context")
    _register_credentials(merged)
    try:
        # config_base_path=None, as the library does: relative paths resolve against their own file.
        loader = KubeConfigLoader(config_dict=merged, active_context=context, config_base_path=None)
    except ConfigException as exc:
        raise ClusterConfigError(redact(f"{where} is unusable: {exc}")) from None
    user_name, user, user_path = _selected_user(merged, loader.current_context)
    plugin = next((key for key in _PLUGIN_KEYS if key in user), None)
    if plugin and not allow_exec:
        raise ClusterConfigError(
            f"{where}: user {user_name!r} authenticates with an {plugin} plugin, which runs a program; "
            "refused unless allow_exec is set"
        )
    _normalize_user_token(user, user_path, f"{where}, user {user_name!r}")
    configuration = k8s_client.Configuration()
    failure: str | None = None
    try:
        loader.load_and_set(configuration)
    except (ConfigException, OSError, ValueError) as exc:
        # A plugin's own output may carry credentials: name the failure, not what it printed.
        failure = f"its {plugin} plugin failed ({type(exc).__name__})" if plugin else redact(str(exc))
    if failure is not None:
        raise ClusterConfigError(f"{where} could not be loaded: {failure}")
    _check_authorization(configuration, where)
    return _client(configuration)


def _merged_kubeconfig(source: str) -> Any:
    try:
        merged = _CappedKubeConfigMerger(source).config
    except yaml.YAMLError as exc:
        # YAML errors quote the offending line, which may be a token: give the position only.
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ClusterConfigError(f"kubeconfig {source} is not valid YAML{at}") from None
    except ConfigException as exc:
        raise ClusterConfigError(redact(f"kubeconfig {source} is unusable: {exc}")) from None
    except OSError as exc:
        raise ClusterConfigError(f"kubeconfig {source} could not be read: {exc.strerror}") from None
    if merged is None or not isinstance(merged.value, dict):
        raise ClusterConfigError(f"kubeconfig {source} holds no configuration")
    return merged


_SECRET_USER_KEYS = ("token", "password", "client-key-data")
_SECRET_PROVIDER_KEYS = ("id-token", "refresh-token", "access-token", "client-secret")


def _register_credentials(merged: Any) -> None:
    """Every credential written in the kubeconfig, of every user, becomes a registered secret."""
    for entry in merged.safe_get("users") or []:
        node = entry.value if isinstance(entry, ConfigNode) else entry
        user = node.get("user") if isinstance(node, dict) else None
        if not isinstance(user, dict):
            continue
        for key in _SECRET_USER_KEYS:
            if isinstance(user.get(key), str):
                register_secret(user[key])
        if isinstance(user.get("client-key-data"), str):
            try:
                register_secret(base64.b64decode(user["client-key-data"]).decode("utf-8", "replace"))
            except ValueError:
                pass
        provider = user.get("auth-provider")
        config = provider.get("config") if isinstance(provider, dict) else None
        if isinstance(config, dict):
            for key in _SECRET_PROVIDER_KEYS:
                if isinstance(config.get(key), str):
                    register_secret(config[key])


def _normalize_user_token(user: dict[str, Any], user_path: str | None, where: str) -> None:
    """Trim the user's token as kubectl does; a tokenFile is read here, under its budget, and becomes
    the token (the library would read it whole and keep its trailing newline)."""
    if user.get("token"):
        user["token"] = _checked_token(user["token"], where)
    elif user.get("tokenFile"):
        name = user["tokenFile"]
        if not isinstance(name, str):
            raise ClusterConfigError(f"{where}: tokenFile is not a path")
        base = os.path.dirname(os.path.abspath(user_path)) if user_path else ""
        path = os.path.normpath(os.path.join(base, os.path.expanduser(name)))
        what = f"{where}: tokenFile {path}"
        token = _token_text(read_capped_file(path, "max_token_file_bytes", what), what)
        if not token:
            raise ClusterConfigError(f"{what} is empty")
        user["token"] = token
        del user["tokenFile"]


def _check_authorization(configuration: k8s_client.Configuration, where: str) -> None:
    value = configuration.api_key.get("authorization")
    if not value:
        return
    credential = str(value).split(" ", 1)[-1]
    register_secret(credential)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in str(value)):
        raise ClusterConfigError(f"{where}: the credential holds a line break or control character; "
                                 "it cannot be sent as an HTTP header")
    parts = urlsplit(configuration.host or "")
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        raise ClusterConfigError(f"{where}: server {safe_url(configuration.host)} is plain http:// and not "
                                 "loopback; a credential is never sent in clear (use https://)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _selected_user(merged: Any, current_context: Mapping[str, Any]) -> tuple[str, dict[str, Any], str | None]:
    """The name, `user:` section ({} when the context names none) and file of the context's user."""
    context = current_context.get("context") or {}
    user_name = str(context.get("user") or "") if isinstance(context, Mapping) else ""
    if not user_name or not merged.safe_get("users"):
        return user_name, {}, None
    node = merged["users"].get_with_name(user_name, safe=True)
    user = node.safe_get("user") if node is not None else None
    return user_name, (user if isinstance(user, dict) else {}), (node.path if node is not None else None)


# --- deadlines that hold for a whole request ----------------------------------------------------
_local = threading.local()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Watch:
    """Ends one request at its deadline, whatever phase it is in (connect, TLS, headers, body): a
    timer shuts the request's sockets down, so a read that a slow server keeps alive with one byte
    a second returns at once. Sockets are watched through duplicates we own, so a number reused by
    another connection after ours closed is never touched."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.fired = False
        self._done = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.001, self.deadline - time.monotonic())

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        try:
            dup = socket.socket(fileno=os.dup(sock.fileno()))
        except OSError:
            return
        with self._lock:
            if self._done:
                dup.close()
                return
            self._socks.append(dup)
            fired = self.fired
        if fired:
            _shutdown(dup)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            socks = list(self._socks)
        for sock in socks:
            _shutdown(sock)

    def finish(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            socks, self._socks = self._socks, []
        for sock in socks:
            sock.close()


def _watch_current(sock: socket.socket | None) -> None:
    watch = getattr(_local, "watch", None)
    if watch is not None:
        watch.watch(sock)


class _WatchedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        _watch_current(sock)  # before a TLS handshake starts on it
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_current(self.sock)  # type: ignore[attr-defined]  # a kept-alive connection
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedConnectionMixin, urllib3.connection.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnectionMixin, urllib3.connection.HTTPSConnection):
    pass


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


# --- reading ------------------------------------------------------------------------------------
class _NotServed(Exception):
    """The API server does not serve this plural (HTTP 404)."""


class _ContinueExpired(Exception):
    """The API server no longer accepts the continue token of a paged list (HTTP 410)."""


@dataclass
class _FabricRead:
    """What one fabric's live read has spent of its budgets so far."""

    server: str
    budgets: ReadBudgets
    deadline: float  # time.monotonic() when the fabric's read must end
    bytes_read: int = 0
    objects: int = 0

    def request_deadline(self, what: str) -> tuple[float, str]:
        """When the next request must end, and which budget sets that."""
        now = time.monotonic()
        if now >= self.deadline:
            raise _deadline_error("fabric_deadline_seconds", self.budgets.fabric_deadline_seconds, what,
                                  "the fabric's read ran out of time")
        own = now + self.budgets.request_deadline_seconds
        return (own, "request_deadline_seconds") if own <= self.deadline else (self.deadline, "fabric_deadline_seconds")


def read_live(
    api_client: k8s_client.ApiClient,
    namespace: str = DEFAULT_NAMESPACE,
    kinds: Sequence[ResourceKind] = KINDS,
    page_size: int = DEFAULT_PAGE_SIZE,
    timeout_seconds: float | None = None,
    budgets: ReadBudgets | None = None,
) -> LiveState:
    """Every object of the given kinds in one namespace of a fabric, listed page by page.

    A plural the server does not serve is a warning finding. Any other failure fails the whole
    read with the error class recovery needs (auth, unreachable, timeout, rate limited); an
    exceeded budget is a BudgetExceededError (a deadline a ClusterTimeoutError) naming the budget
    and its env var. `budgets` defaults to ReadBudgets.from_env(); `timeout_seconds` overrides its
    request deadline. An item that is not an object, or whose metadata is not an object with a
    name, fails the read (ClusterUnreachableError, a garbled answer) rather than reach the engine.
    Give it a client from api_client_for, whose transport leaves 429 and 5xx answers to the caller.
    """
    if page_size <= 0:
        raise ValueError("page_size must be positive")
    budgets = budgets or ReadBudgets.from_env()
    if timeout_seconds is not None:
        budgets = replace(budgets, request_deadline_seconds=timeout_seconds)
    server = safe_url(api_client.configuration.host)
    reading = _FabricRead(server, budgets, time.monotonic() + budgets.fabric_deadline_seconds)
    state = LiveState(server=server)
    for kind in kinds:
        try:
            state.objects.extend(_list_kind(api_client, kind, namespace, page_size, reading))
        except _NotServed:
            state.findings.append(
                Finding(
                    source=f"cluster:{kind.plural}",
                    level="warning",
                    message=f"{kind.plural}.{kind.group}/{kind.version} is not served by {server} "
                    "(HTTP 404); skipped",
                )
            )
    if kinds and len(state.findings) == len(kinds):
        # Nothing Hedgehog is served: a wrong server URL, not a fabric with nothing in it.
        raise ClusterConfigError(
            f"{server} serves none of the {len(kinds)} Hedgehog resource kinds asked for"
        )
    return state


def _timeout_from_env() -> float:
    return budget_value("request_deadline_seconds")


def _list_kind(
    api_client: k8s_client.ApiClient, kind: ResourceKind, namespace: str, page_size: int, reading: _FabricRead
) -> list[Obj]:
    """All objects of one plural; an expired continue token restarts the list once."""
    for _ in range(2):
        counted = reading.objects
        try:
            return _all_pages(api_client, kind, namespace, page_size, reading)
        except _ContinueExpired:
            reading.objects = counted
            continue
    raise TransientError(
        f"{reading.server}: listing {kind.plural}.{kind.group} expired its continue token twice (HTTP 410); gave up"
    )


def _all_pages(
    api_client: k8s_client.ApiClient, kind: ResourceKind, namespace: str, page_size: int, reading: _FabricRead
) -> list[Obj]:
    what = f"{reading.server}: listing {kind.plural}.{kind.group}"
    items: list[Obj] = []
    token: str | None = None
    seen: set[str] = set()
    pages = 0
    while True:
        pages += 1
        if pages > reading.budgets.max_pages_per_kind:
            raise _budget_error("max_pages_per_kind", reading.budgets.max_pages_per_kind, what,
                                "the list kept going past its page budget")
        page = _list_page(api_client, kind, namespace, page_size, token, reading, what)
        reading.objects += len(page["items"])
        if reading.objects > reading.budgets.max_objects:
            raise _budget_error("max_objects", reading.budgets.max_objects, what,
                                f"the fabric holds more than {reading.budgets.max_objects} objects")
        for index, item in enumerate(page["items"]):
            problem = _item_problem(item)
            if problem:
                raise ClusterUnreachableError(f"{what} answered an item (#{len(items) + 1}) whose {problem}")
            depth = reading.budgets.max_depth
            if _deeper_than(item, depth):
                raise _budget_error("max_depth", depth, what,
                                    f"an item (#{len(items) + 1}) is nested deeper than {depth} levels")
            # Items of a list carry their type on a real server; be sure they do here too.
            item.setdefault("apiVersion", kind.api_version)
            item.setdefault("kind", kind.kind)
            items.append(item)
        metadata = page.get("metadata") or {}
        token = metadata.get("continue") if isinstance(metadata, dict) else None
        if not token:
            return items
        if not isinstance(token, str):
            raise ClusterUnreachableError(f"{what} answered a continue token that is not a string")
        if token in seen:
            raise BudgetExceededError(
                f"{what}: the server answered a continue token it had already sent (a paging loop); "
                f"stopped ({REPEATED_CONTINUE}, not settable)", budget=REPEATED_CONTINUE)
        seen.add(token)


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and lists nest more than `limit` levels (iteratively: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _item_problem(item: Any) -> str | None:
    """What makes a list item unusable as a Kubernetes object, or None."""
    if not isinstance(item, dict):
        return "is not an object"
    for key in ("apiVersion", "kind"):
        if key in item and not isinstance(item[key], str):
            return f"{key} is not a string"
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        return "metadata is not an object"
    if not isinstance(metadata.get("name"), str) or not metadata["name"]:
        return "metadata.name is not a non-empty string"
    if "namespace" in metadata and not isinstance(metadata["namespace"], (str, type(None))):
        return "metadata.namespace is not a string"
    for key in ("labels", "annotations"):
        value = metadata.get(key)
        if value is not None and not (isinstance(value, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
            return f"metadata.{key} is not a map of strings"
    return None


def _list_page(
    api_client: k8s_client.ApiClient,
    kind: ResourceKind,
    namespace: str,
    page_size: int,
    token: str | None,
    reading: _FabricRead,
    what: str,
) -> Obj:
    config = api_client.configuration
    query: dict[str, Any] = {"limit": page_size}
    if token:
        query["continue"] = token
    url = (f"{config.host}/apis/{kind.group}/{kind.version}/namespaces/{quote(namespace, safe='')}/"
           f"{kind.plural}?{urlencode(query)}")
    headers = _request_headers(api_client, what)
    deadline, budget_key = reading.request_deadline(what)
    limit = reading.budgets.request_deadline_seconds if budget_key == "request_deadline_seconds" \
        else reading.budgets.fabric_deadline_seconds
    watch = _Watch(deadline)
    _local.watch = watch
    response = None
    failure: BaseException | None = None
    body: bytearray | None = None
    try:
        remaining = watch.remaining()
        response = api_client.rest_client.pool_manager.request(
            "GET", url, headers=headers, preload_content=False, decode_content=False, redirect=False,
            timeout=urllib3.Timeout(connect=remaining, read=remaining),
        )
        if not 200 <= response.status <= 299:
            status = response.status
            if status == 404:
                raise _NotServed()
            if status == 410 and token:
                raise _ContinueExpired()
            raise error_for_http_status(
                status, f"{what} answered HTTP {status} {_phrase(status)}".rstrip(),
                retry_after_seconds(dict(response.headers.items())))
        body = _read_body(response, reading, what)
    except (HedgehogSyncError, _NotServed, _ContinueExpired):
        raise
    except ValueError as exc:
        # http.client refuses a header value with a line break, quoting it whole: never pass that on.
        failure = _HeaderRefused() if "header" in str(exc).lower() else exc
    except Exception as exc:  # noqa: BLE001 - urllib3, http.client, ssl and socket errors alike
        failure = exc
    finally:
        _local.watch = None
        watch.finish()
        if response is not None:
            if body is None:
                response.close()  # never drain what a hostile server may still be sending
            response.release_conn()
    if isinstance(failure, urllib3.exceptions.MaxRetryError):
        failure = failure.reason or failure
    if watch.fired or _timed_out(failure):
        # The socket's own timeout is the same deadline (it was set to what was left of it): whichever
        # of the two fires first, under load either may, the error names the budget and its env var.
        late = "the request" if budget_key == "request_deadline_seconds" else "the fabric's read"
        raise _deadline_error(budget_key, limit, what, f"{late} did not finish in time")
    if isinstance(failure, _HeaderRefused):
        raise ClusterConfigError(f"{what}: the credential cannot be sent as an HTTP header "
                                 "(a line break or control character in it)")
    if failure is not None:
        raise _transport_error(failure, what, bool(api_client.configuration.cert_file))
    assert body is not None
    return _decode_page(body, what)


class _HeaderRefused(Exception):
    """A header value http.client would not send (its own message quotes the value)."""


def _request_headers(api_client: k8s_client.ApiClient, what: str) -> dict[str, str]:
    headers = dict(api_client.default_headers)
    headers.update({"Accept": "application/json", "Accept-Encoding": "identity"})
    broken = False
    try:
        # Runs the refresh hook of rotating credentials (in-cluster token file, exec plugins).
        api_client.update_params_for_auth(headers, [], ["BearerToken"])
    except HedgehogSyncError:
        raise
    except Exception:  # noqa: BLE001 - a plugin's failure text may quote what it printed
        broken = True
    if broken:
        raise ClusterConfigError(f"{what}: the credentials could not be refreshed")
    value = headers.get("authorization")
    if value:
        register_secret(str(value).split(" ", 1)[-1])
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in str(value)):
            raise ClusterConfigError(f"{what}: the credential cannot be sent as an HTTP header "
                                     "(a line break or control character in it)")
    return headers


def _read_body(response: Any, reading: _FabricRead, what: str) -> bytearray:
    """The raw body, read in bounded chunks under the response and fabric byte budgets."""
    encoding = (response.headers.get("content-encoding") or "").strip().lower()
    if encoding not in ("", "identity"):
        raise BudgetExceededError(
            f"{what}: the server answered a {encoding[:20]!r}-encoded body, which was not asked for "
            f"(Accept-Encoding: identity); refused unread ({CONTENT_ENCODING}, not settable)",
            budget=CONTENT_ENCODING)
    transfer = (response.headers.get("transfer-encoding") or "").strip().lower()
    if transfer not in ("", "identity", "chunked"):
        raise BudgetExceededError(
            f"{what}: the server answered a body with transfer encoding {transfer[:20]!r}; "
            f"refused unread ({CONTENT_ENCODING}, not settable)", budget=CONTENT_ENCODING)
    cap = reading.budgets.max_response_bytes
    fabric_left = reading.budgets.max_fabric_bytes - reading.bytes_read
    announced = response.headers.get("content-length")
    if announced and announced.strip().isdigit():
        _check_sizes(int(announced), cap, fabric_left, reading, what, "announced")
    body = bytearray()
    while True:
        chunk = response.read(64 * 1024, decode_content=False)
        if not chunk:
            break
        body += chunk
        reading.bytes_read += len(chunk)
        _check_sizes(len(body), cap, fabric_left, reading, what, "sent")
    return body


def _check_sizes(size: int, cap: int, fabric_left: int, reading: _FabricRead, what: str, verb: str) -> None:
    if size > cap:
        raise _budget_error("max_response_bytes", cap, what, f"one answer {verb} more than {cap} bytes")
    if size > fabric_left:
        raise _budget_error("max_fabric_bytes", reading.budgets.max_fabric_bytes, what,
                            f"the fabric's answers {verb} more than {reading.budgets.max_fabric_bytes} bytes")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number out of range")
    return value


def _decode_page(body: bytearray, what: str) -> Obj:
    try:
        page = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        # Never quote the body: a proxy may echo our request (and its credentials) into it.
        page = None
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        # A cut or garbled answer (a proxy's error page), or JSON that is not a Kubernetes list.
        raise ClusterUnreachableError(
            f"{what} answered a body that is not a Kubernetes list (truncated or not JSON)"
        )
    return page


def _phrase(status: int) -> str:
    # The standard phrase, never the server's own reason text.
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or invalid."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = str(value).strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _timed_out(cause: BaseException | None) -> bool:
    """A socket or urllib3 timeout (a refused connection is not: NewConnectionError subclasses
    urllib3's ConnectTimeoutError)."""
    return (isinstance(cause, (urllib3.exceptions.TimeoutError, TimeoutError, socket.timeout))
            and not isinstance(cause, urllib3.exceptions.NewConnectionError))


def _transport_error(cause: BaseException, what: str, client_certificate: bool = False) -> HedgehogSyncError:
    """What a failed request (other than a timeout: see _timed_out) tells the operator."""
    if client_certificate and _closed_before_answering(cause):
        # A TLS 1.3 server refusing a client certificate may close the connection without an alert.
        return ClusterUnreachableError(
            f"{what} failed: the server closed the connection before answering; with a client certificate "
            "in the kubeconfig (client-certificate-data), the usual cause is that the server does not "
            "accept it: use one signed by the cluster's client CA")
    if isinstance(cause, urllib3.exceptions.ResponseError):
        # A client with urllib3's default retries spent them on error statuses (429, 503).
        return ClusterUnreachableError(f"{what} kept answering error statuses")
    return ClusterUnreachableError(f"{what} failed: {_describe(cause)}")


def _closed_before_answering(cause: BaseException) -> bool:
    """The connection ended at the TLS handshake or before any byte of an answer."""
    if isinstance(_ssl_error(cause), ssl.SSLEOFError):
        return True
    seen: list[Any] = [cause, *getattr(cause, "args", ())]
    return any(isinstance(e, (RemoteDisconnected, ConnectionResetError)) for e in seen)


def _ssl_error(cause: BaseException) -> ssl.SSLError | None:
    """The ssl module's error inside urllib3's wrappers, if any."""
    seen: set[int] = set()
    pending: list[Any] = [cause]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        pending += [current.__cause__, current.__context__, *current.args]
    return None


# OpenSSL verification codes (X509_V_ERR_*) and what the operator must fix for each.
_UNTRUSTED_CA = {2, 18, 19, 20, 21}
_EXPIRED, _NOT_YET_VALID = 10, 9
_NAME_MISMATCH = {62, 64}


def _tls_problem(cause: BaseException) -> str:
    """Which TLS check failed, in the operator's words, with the kubeconfig field to fix."""
    error = _ssl_error(cause)
    if isinstance(error, ssl.SSLCertVerificationError):
        code = error.verify_code
        if code in _UNTRUSTED_CA:
            return ("TLS: the server's certificate is not signed by a CA the kubeconfig trusts "
                    "(certificate-authority-data): put the cluster's CA there")
        if code == _EXPIRED:
            return "TLS: the server's certificate has expired: the cluster's certificate must be renewed"
        if code == _NOT_YET_VALID:
            return "TLS: the server's certificate is not valid yet: check this host's clock"
        if code in _NAME_MISMATCH:
            return (f"TLS: the server's certificate does not name the host connected to ({error.verify_message}): "
                    "use a server address the certificate names, or reissue it")
        return f"TLS: the server's certificate was refused ({error.verify_message})"
    reason = str(getattr(error, "reason", "") or "")
    if "ALERT" in reason and ("CERTIFICATE" in reason or "UNKNOWN_CA" in reason):
        alert = reason.split("ALERT_", 1)[-1].replace("_", " ").lower()
        return (f"TLS: the server refused the handshake (alert: {alert}): it does not accept the kubeconfig's "
                "client certificate (client-certificate-data)")
    return f"TLS error ({reason.replace('_', ' ').lower() or type(error or cause).__name__})"


def _describe(cause: BaseException) -> str:
    """A short, secret-free account of a connection failure."""
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return "the host name did not resolve"
    if isinstance(cause, urllib3.exceptions.SSLError):
        return _tls_problem(cause)
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        os_error = cause.__cause__ or cause.__context__
        reason = (
            os_error.strerror if isinstance(os_error, OSError) and os_error.strerror else "connection failed"
        )
        return f"could not connect ({reason.lower()})"
    if isinstance(cause, (urllib3.exceptions.ProtocolError, ConnectionError)):
        return "the connection was dropped"
    if isinstance(cause, HTTPException):
        return "the answer was not well-formed HTTP"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return type(cause).__name__
