"""Read a fabric's live Hedgehog resources from its Kubernetes API server with the official client."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import SERVICE_HOST_ENV_NAME, SERVICE_TOKEN_FILENAME
from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

from hedgehog_sync.domain.errors import (
    ClusterConfigError,
    ClusterTimeoutError,
    ClusterUnreachableError,
    HedgehogSyncError,
    TransientError,
    error_for_http_status,
)
from hedgehog_sync.domain.kinds import KINDS, ResourceKind
from hedgehog_sync.domain.model import Finding, LiveState, Obj

DEFAULT_NAMESPACE = "default"
DEFAULT_PAGE_SIZE = 500
DEFAULT_TIMEOUT_SECONDS = 30.0
# Operators (and the fault tests) may change the per-request limit without code.
TIMEOUT_ENV = "HEDGEHOG_SYNC_KUBERNETES_TIMEOUT_SECONDS"
# Shows up in the API server's audit log and managedFields, so operators can tell who read.
USER_AGENT = "hedgehog-sync"
_PLUGIN_KEYS = ("exec", "auth-provider")
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


# --- clients ------------------------------------------------------------------------------------
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
    because loading them runs a program named in the file.
    """
    if kubeconfig is None and _in_cluster_available():
        return _in_cluster_client()
    source = (
        os.fspath(kubeconfig) if kubeconfig is not None else os.environ.get("KUBECONFIG") or "~/.kube/config"
    )
    return _kubeconfig_client(source, context, allow_exec)


def _in_cluster_available() -> bool:
    return bool(os.environ.get(SERVICE_HOST_ENV_NAME)) and os.path.isfile(SERVICE_TOKEN_FILENAME)


def _in_cluster_client() -> k8s_client.ApiClient:
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except ConfigException as exc:
        raise ClusterConfigError(f"in-cluster Kubernetes configuration could not be loaded: {exc}") from None
    return _client(configuration)


def _client(configuration: k8s_client.Configuration) -> k8s_client.ApiClient:
    configuration.retries = TRANSPORT_RETRIES
    api_client = k8s_client.ApiClient(configuration)
    api_client.user_agent = USER_AGENT
    return api_client


def _kubeconfig_client(source: str, context: str | None, allow_exec: bool) -> k8s_client.ApiClient:
    paths = [os.path.expanduser(p) for p in source.split(os.pathsep) if p]
    # Like kubectl, a KUBECONFIG list may name files that do not exist, but not only such files.
    if not any(os.path.isfile(p) for p in paths):
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
    try:
        # config_base_path=None, as the library does: relative paths resolve against their own file.
        loader = KubeConfigLoader(config_dict=merged, active_context=context, config_base_path=None)
    except ConfigException as exc:
        raise ClusterConfigError(f"{where} is unusable: {exc}") from None
    user_name, user = _selected_user(merged, loader.current_context)
    plugin = next((key for key in _PLUGIN_KEYS if key in user), None)
    if plugin and not allow_exec:
        raise ClusterConfigError(
            f"{where}: user {user_name!r} authenticates with an {plugin} plugin, which runs a program; "
            "refused unless allow_exec is set"
        )
    configuration = k8s_client.Configuration()
    try:
        loader.load_and_set(configuration)
    except (ConfigException, OSError, ValueError) as exc:
        # A plugin's own output may carry credentials: name the failure, not what it printed.
        detail = f"its {plugin} plugin failed ({type(exc).__name__})" if plugin else str(exc)
        raise ClusterConfigError(f"{where} could not be loaded: {detail}") from None
    return _client(configuration)


def _merged_kubeconfig(source: str) -> Any:
    try:
        merged = KubeConfigMerger(source).config
    except yaml.YAMLError as exc:
        # YAML errors quote the offending line, which may be a token: give the position only.
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ClusterConfigError(f"kubeconfig {source} is not valid YAML{at}") from None
    except ConfigException as exc:
        raise ClusterConfigError(f"kubeconfig {source} is unusable: {exc}") from None
    except OSError as exc:
        raise ClusterConfigError(f"kubeconfig {source} could not be read: {exc.strerror}") from None
    if merged is None or not isinstance(merged.value, dict):
        raise ClusterConfigError(f"kubeconfig {source} holds no configuration")
    return merged


def _selected_user(merged: Any, current_context: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The name and `user:` section the context uses ({} when it names none)."""
    user_name = str((current_context.get("context") or {}).get("user") or "")
    if not user_name or not merged.safe_get("users"):
        return user_name, {}
    node = merged["users"].get_with_name(user_name, safe=True)
    user = node.safe_get("user") if node is not None else None
    return user_name, (user if isinstance(user, Mapping) else {})


# --- reading ------------------------------------------------------------------------------------
def redact_url(url: str) -> str:
    """The URL without userinfo, query or fragment: safe to show in reports and messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class _NotServed(Exception):
    """The API server does not serve this plural (HTTP 404)."""


class _ContinueExpired(Exception):
    """The API server no longer accepts the continue token of a paged list (HTTP 410)."""


def read_live(
    api_client: k8s_client.ApiClient,
    namespace: str = DEFAULT_NAMESPACE,
    kinds: Sequence[ResourceKind] = KINDS,
    page_size: int = DEFAULT_PAGE_SIZE,
    timeout_seconds: float | None = None,
) -> LiveState:
    """Every object of the given kinds in one namespace of a fabric, listed page by page.

    A plural the server does not serve is a warning finding. Any other failure fails the whole
    read with the error class recovery needs (auth, unreachable, timeout, rate limited). Give it a
    client from api_client_for, whose transport leaves 429 and 5xx answers to the caller.
    """
    if page_size <= 0:
        raise ValueError("page_size must be positive")
    if timeout_seconds is None:
        timeout_seconds = _timeout_from_env()
    server = redact_url(api_client.configuration.host)
    api = k8s_client.CustomObjectsApi(api_client)
    state = LiveState(server=server)
    for kind in kinds:
        try:
            state.objects.extend(_list_kind(api, kind, namespace, page_size, timeout_seconds, server))
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
    try:
        seconds = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_SECONDS)
    except ValueError:
        return DEFAULT_TIMEOUT_SECONDS
    return seconds if math.isfinite(seconds) and seconds > 0 else DEFAULT_TIMEOUT_SECONDS


def _list_kind(
    api: k8s_client.CustomObjectsApi,
    kind: ResourceKind,
    namespace: str,
    page_size: int,
    timeout: float,
    server: str,
) -> list[Obj]:
    """All objects of one plural; an expired continue token restarts the list once."""
    for _ in range(2):
        try:
            return _all_pages(api, kind, namespace, page_size, timeout, server)
        except _ContinueExpired:
            continue
    raise TransientError(
        f"{server}: listing {kind.plural}.{kind.group} expired its continue token twice (HTTP 410); gave up"
    )


def _all_pages(
    api: k8s_client.CustomObjectsApi,
    kind: ResourceKind,
    namespace: str,
    page_size: int,
    timeout: float,
    server: str,
) -> list[Obj]:
    items: list[Obj] = []
    token: str | None = None
    while True:
        page = _list_page(api, kind, namespace, page_size, token, timeout, server)
        for item in page["items"]:
            if not isinstance(item, dict):
                raise ClusterUnreachableError(
                    f"{server}: listing {kind.plural}.{kind.group} answered an item that is not an object"
                )
            # Items of a list carry their type on a real server; be sure they do here too.
            item.setdefault("apiVersion", kind.api_version)
            item.setdefault("kind", kind.kind)
            items.append(item)
        token = (page.get("metadata") or {}).get("continue") or None
        if token is None:
            return items


def _list_page(
    api: k8s_client.CustomObjectsApi,
    kind: ResourceKind,
    namespace: str,
    page_size: int,
    token: str | None,
    timeout: float,
    server: str,
) -> Obj:
    what = f"{server}: listing {kind.plural}.{kind.group}"
    # A (connect, read) pair: the client silently ignores a single float (it only takes int or tuple).
    params: dict[str, Any] = {"limit": page_size, "_request_timeout": (timeout, timeout)}
    if token:
        params["_continue"] = token
    try:
        page = api.list_namespaced_custom_object(kind.group, kind.version, namespace, kind.plural, **params)
    except ApiException as exc:
        if exc.status == 404:
            raise _NotServed() from None
        if exc.status == 410 and token:
            raise _ContinueExpired() from None
        # `from None`: the ApiException's text holds the response body, which a proxy may echo.
        raise _http_error(exc, what) from None
    except urllib3.exceptions.MaxRetryError as exc:
        raise _transport_error(exc.reason or exc, what, timeout) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise _transport_error(exc, what, timeout) from exc
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        # The client hands back the raw text when the body is not JSON: a cut or garbled answer.
        raise ClusterUnreachableError(
            f"{what} answered a body that is not a Kubernetes list (truncated or not JSON)"
        )
    return page


def _http_error(exc: ApiException, what: str) -> HedgehogSyncError:
    status = int(exc.status or 0)
    if status == 0:
        # The client reports TLS failures as status 0.
        return ClusterUnreachableError(f"{what} failed: TLS error")
    phrase = _phrase(status)
    retry_after = retry_after_seconds(exc.headers or {})
    return error_for_http_status(status, f"{what} answered HTTP {status} {phrase}".rstrip(), retry_after)


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
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _transport_error(cause: BaseException, what: str, timeout: float) -> HedgehogSyncError:
    # NewConnectionError subclasses ConnectTimeoutError in urllib3: a refusal is not a timeout.
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        return ClusterUnreachableError(f"{what} failed: {_describe(cause)}")
    if isinstance(cause, (urllib3.exceptions.TimeoutError, TimeoutError)):
        return ClusterTimeoutError(f"{what} timed out after {timeout:g}s")
    if isinstance(cause, urllib3.exceptions.ResponseError):
        # A client with urllib3's default retries spent them on error statuses (429, 503).
        return ClusterUnreachableError(f"{what} kept answering error statuses")
    return ClusterUnreachableError(f"{what} failed: {_describe(cause)}")


def _describe(cause: BaseException) -> str:
    """A short, secret-free account of a connection failure."""
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return "the host name did not resolve"
    if isinstance(cause, urllib3.exceptions.SSLError):
        return "TLS error"
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        os_error = cause.__cause__ or cause.__context__
        reason = (
            os_error.strerror if isinstance(os_error, OSError) and os_error.strerror else "connection failed"
        )
        return f"could not connect ({reason.lower()})"
    if isinstance(cause, (urllib3.exceptions.ProtocolError, ConnectionError)):
        return "the connection was dropped"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return type(cause).__name__
