"""The fabric inventory file (docs/contracts.md#the-inventory-file): validated per entry, so one bad
entry stops only itself."""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.normalize import IgnoreRule, NormalizeRules
from hedgehog_sync.domain.parsing import expanded_size

# \Z, not $: "$" also matches before a trailing newline, and "fab\n" must not pass as "fab".
PARTITION_KEY = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")  # \Z: "$" would let a trailing newline through
DEFAULT_INVENTORY = "fabrics.yaml"
MAX_INVENTORY_BYTES = 4 * 1024 * 1024
MAX_INVENTORY_BYTES_ENV = "HEDGEHOG_SYNC_INVENTORY_MAX_BYTES"
# token_env may only name variables the operator set aside for git tokens: never the database
# password or any other secret the process holds.
TOKEN_ENV_PREFIX = "HEDGEHOG_SYNC_"
TOKEN_ENV_PREFIX_ENV = "HEDGEHOG_SYNC_TOKEN_ENV_PREFIX"
# hedgehog-sync's own settings share the prefix; none of them is a git token.
_OWN_SETTINGS = re.compile(r"^HEDGEHOG_SYNC_(INVENTORY|STATE_DIR|ALERT_WEBHOOK|TOKEN_ENV_PREFIX|GIT_|"
                           r"KUBERNETES_|FUZZ_)")
MAX_INVENTORY_NODES = 1_000_000
# An inventory is four or five levels deep. libyaml composes recursively in C with no limit (a 400 KB
# line of "[" ended the process with SIGSEGV) and the pure loader recursively in Python: the depth is
# measured from the parser's events, which need no recursion, before anything is composed.
MAX_INVENTORY_DEPTH = 64
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Priority = Literal["critical", "high", "medium", "low", "maintenance"]
PRIORITY_RANK = {"critical": 1, "high": 2, "medium": 3, "low": 4, "maintenance": 5}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GitSettings(_Strict):
    url: str
    ref: str = "main"
    path: str = ""
    token_env: str | None = None
    allow_local: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be empty")
        if v.startswith("-"):
            raise ValueError("must not start with '-' (it would be read as a git option)")
        lowered = v.lower()
        if "::" in v.split("/", 1)[0] or lowered.startswith(("ext::", "fd::")):
            raise ValueError("transport helpers such as ext:: and fd:: are refused")
        if re.search(r"^[a-z][a-z0-9+.-]*://[^/@]*:[^/@]*@", v, re.IGNORECASE) or re.match(
                r"^https?://[^/@]*@", v, re.IGNORECASE):
            # https://TOKEN@host/ is how many people paste a token: a user name is a secret there too
            raise ValueError("must not carry credentials; put the token in an env var named by token_env")
        if re.match(r"^[a-z][a-z0-9+.-]*://[^?#]*[?#]", v, re.IGNORECASE):
            # https://host/repo.git?private_token=... would be sent, logged and cached with the URL
            raise ValueError("must not carry a query string or fragment (credentials there would be sent "
                             "and shown); put the token in an env var named by token_env")
        if re.match(r"^[a-z][a-z0-9+.-]*://([^/@]*@)?\[?-", v, re.IGNORECASE) or re.match(r"^([^/:@]*@)?-[^/]*:", v):
            # ssh://-oProxyCommand=... : a host (or user) that ssh would read as an option
            raise ValueError("host and user must not start with '-' (ssh would read them as options)")
        return v

    @field_validator("ref")
    @classmethod
    def _ref(cls, v: str) -> str:
        if not v or v.startswith("-") or any(c in v for c in " ~^:?*[\\") or ".." in v:
            raise ValueError("is not a valid branch, tag or commit name")
        return v

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        v = v.strip().strip("/")
        if any(part == ".." for part in v.split("/")):
            raise ValueError("must stay inside the repository (no '..')")
        return v

    @field_validator("token_env")
    @classmethod
    def _token_env(cls, v: str | None) -> str | None:
        if v is not None and not ENV_VAR_NAME.match(v):
            raise ValueError("must be the NAME of an environment variable, not the token itself")
        problem = token_env_problem(v) if v is not None else None
        if problem:
            raise ValueError(problem.removeprefix("git.token_env "))
        return v

    @model_validator(mode="after")
    def _token_transport(self) -> "GitSettings":
        problem = token_transport_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    def is_local(self) -> bool:
        lowered = self.url.lower()
        return lowered.startswith("file://") or "://" not in lowered and not re.match(
            r"^[\w.-]+@[\w.-]+:", self.url)


def token_env_prefix() -> str:
    return os.environ.get(TOKEN_ENV_PREFIX_ENV, TOKEN_ENV_PREFIX).strip() or TOKEN_ENV_PREFIX


def token_env_problem(name: str) -> str | None:
    """Why `name` may not hold a git token, or None."""
    prefix = token_env_prefix()
    if not name.startswith(prefix) or name == prefix:
        example = prefix + (name if not name.startswith(prefix) else "GIT_TOKEN")
        return (f"git.token_env '{name}' is refused: git tokens may only come from environment variables "
                f"whose names start with {prefix} (rename it, for example to {example}, or set "
                f"{TOKEN_ENV_PREFIX_ENV})")
    if prefix == TOKEN_ENV_PREFIX and _OWN_SETTINGS.match(name):
        return (f"git.token_env '{name}' is refused: it is one of hedgehog-sync's own settings, not a token; "
                f"name a variable such as {prefix}<FABRIC>_GIT_TOKEN")
    return None


def _is_loopback_url(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_transport_problem(git: "GitSettings") -> str | None:
    """Why the token of `git` may not be sent to its URL, or None: never in clear text over http://,
    except to this machine (loopback) with allow_local."""
    if not git.token_env or not git.url.lower().startswith("http://"):
        return None
    if git.allow_local and _is_loopback_url(git.url):
        return None
    return ("git.token_env is set but git.url is plain http://: the token would travel in clear text; "
            "use https:// (plain http is only allowed to a loopback host with allow_local: true)")


class KubernetesSettings(_Strict):
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = "default"

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if v != "default":
            raise ValueError("Hedgehog only serves namespace 'default'")
        return v


class IgnoreEntry(_Strict):
    kind: str = "*"
    group: str = "*"
    pointer: str = Field(pattern=r"^(/[^/]*)+$")


class FabricConfig(_Strict):
    name: str
    enabled: bool = True
    priority: Priority = "medium"
    git: GitSettings
    kubernetes: KubernetesSettings = KubernetesSettings()
    ignore: tuple[IgnoreEntry, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not PARTITION_KEY.match(v):
            raise ValueError("must be a DNS label: lowercase letters, digits and '-', "
                             "1-63 characters, starting and ending with a letter or digit")
        return v

    @model_validator(mode="after")
    def _local_git_needs_consent(self) -> "FabricConfig":
        if self.git.is_local() and not self.git.allow_local:
            raise ValueError("git.url is a local path or file:// URL; set git.allow_local: true "
                             "to permit it (demo and tests only)")
        return self

    @property
    def rules(self) -> NormalizeRules:
        return NormalizeRules(tuple(IgnoreRule(i.kind, i.pointer, i.group) for i in self.ignore))


@dataclass(frozen=True)
class InventoryProblem:
    """One thing wrong with the inventory, addressed the way a person would find it in the file."""

    path: str
    entry: int | None  # 1-based index under `fabrics:`, None for the file itself
    name: str | None
    message: str

    def __str__(self) -> str:
        where = self.path
        if self.entry is not None:
            where += f": fabrics[{self.entry}]"
            if self.name:
                where += f" ({self.name})"
        return f"{where}: {self.message}"


@dataclass
class Inventory:
    path: str
    fabrics: list[FabricConfig] = field(default_factory=list)
    problems: list[InventoryProblem] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)  # name -> 1-based entry under `fabrics:`
    notifications: Any = None  # the raw `notifications:` section (routes of drift notifications)

    def environment_warnings(self, environ: Any = None) -> list[InventoryProblem]:
        """What the inventory names but this process lacks: a token_env variable unset or empty."""
        environ = os.environ if environ is None else environ
        out = []
        for cfg in self.fabrics:
            name = cfg.git.token_env
            if name and not (environ.get(name) or "").strip():
                out.append(InventoryProblem(self.path, self.index.get(cfg.name), cfg.name,
                                            f"git.token_env {name} is not set (or empty) here: git will be "
                                            "asked without a token; set it where the fabric is synced"))
        return out

    def by_name(self) -> dict[str, FabricConfig]:
        return {f.name: f for f in self.fabrics}

    def enabled(self) -> list[FabricConfig]:
        return [f for f in self.fabrics if f.enabled]


def inventory_path(explicit: str | None = None) -> str:
    return explicit or os.environ.get("HEDGEHOG_SYNC_INVENTORY") or DEFAULT_INVENTORY


def _describe(err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()))  # pydantic 2 never puts a marker of its own in loc
    kind = err.get("type")
    if kind == "extra_forbidden":
        return f"unknown field '{loc}' (check the spelling; unknown keys are refused)"
    if kind == "missing":
        return f"missing required field '{loc}'"
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"field '{loc}' {msg}" if loc else msg


def _check_depth(text: str, path: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=_SAFE_LOADER):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_INVENTORY_DEPTH:
                raise InventoryError(f"{path}: YAML nested deeper than {MAX_INVENTORY_DEPTH} levels at line "
                                     f"{event.start_mark.line + 1}; an inventory needs five at most")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def parse_inventory(text: str, path: str) -> Inventory:
    """Parse inventory text; raises InventoryError only when nothing at all can be used."""
    try:
        _check_depth(text, path)
        node = yaml.compose(text, Loader=_SAFE_LOADER)  # libyaml: 8x the pure loader on a big fleet
        # An alias bomb would expand while each entry is validated: refuse it before building anything.
        if node is not None and expanded_size(node, MAX_INVENTORY_NODES) > MAX_INVENTORY_NODES:
            raise InventoryError(f"{path}: YAML aliases expand to more than {MAX_INVENTORY_NODES} nodes "
                                 "(an alias bomb?); write the entries out")
        try:
            data = _SAFE_LOADER(text).construct_document(node) if node is not None else None
        except yaml.YAMLError:
            raise
        except Exception as exc:  # noqa: BLE001 - a value its tag cannot hold (`!!int x`, `!!int ''`,
            # `!!timestamp 2020-13-45`): PyYAML's constructors raise the builtin's error, not a YAMLError
            raise InventoryError(f"{path}: a YAML value does not fit its tag ({exc.__class__.__name__}); fix "
                                 "the value or remove the tag") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InventoryError(f"{path}: not valid YAML{where}; fix the syntax") from None
    if not isinstance(data, dict) or not isinstance(data.get("fabrics"), list):
        # No `fabrics:` list at all: this is some other file, not an inventory with a typo in it.
        raise InventoryError(f"{path}: expected a mapping with a 'fabrics:' list at the top")
    inv = Inventory(path=path)
    for key in data:
        if key not in ("fabrics", "notifications"):
            inv.problems.append(InventoryProblem(path, None, None, f"unknown top-level key '{key}' "
                                                 "(only 'fabrics' and 'notifications' are allowed)"))
    inv.notifications = data.get("notifications")  # checked by domain/notify.parse_settings where used
    entries = data.get("fabrics") or []
    names: dict[str, int] = {}
    valid: list[tuple[int, FabricConfig]] = []
    duplicated: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        raw_name = entry.get("name") if isinstance(entry, dict) else None
        name = raw_name if isinstance(raw_name, str) else None
        if not isinstance(entry, dict):
            inv.problems.append(InventoryProblem(path, index, None, "entry is not a mapping"))
            continue
        try:
            cfg = FabricConfig.model_validate(entry)
        except ValidationError as exc:
            for err in exc.errors():
                inv.problems.append(InventoryProblem(path, index, name, _describe(err)))
            continue
        if cfg.name in names:
            duplicated.add(cfg.name)
            inv.problems.append(InventoryProblem(
                path, index, cfg.name, f"duplicate name: fabrics[{names[cfg.name]}] already uses "
                                       f"'{cfg.name}'; both entries are ignored until one is renamed"))
            continue
        names[cfg.name] = index
        valid.append((index, cfg))
    inv.fabrics = [cfg for _, cfg in valid if cfg.name not in duplicated]
    inv.index = {cfg.name: index for index, cfg in valid if cfg.name not in duplicated}
    return inv


def max_inventory_bytes() -> int:
    try:
        value = int(os.environ.get(MAX_INVENTORY_BYTES_ENV) or MAX_INVENTORY_BYTES)
    except ValueError:
        return MAX_INVENTORY_BYTES
    return value if value > 0 else MAX_INVENTORY_BYTES


def _read_capped(p: Path, cap: int) -> bytes:
    """At most cap + 1 bytes of a regular file, whatever its size claims (a file may grow, /proc lies)."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below. (os.open makes
        # every descriptor non-inheritable itself, PEP 446: no O_CLOEXEC needed.)
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InventoryError(f"{p}: inventory file not found; create it or set "
                             "HEDGEHOG_SYNC_INVENTORY to its path") from None
    except OSError as exc:
        raise InventoryError(f"{p}: cannot be opened ({exc.strerror}); check its permissions") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):  # a folder opens read-only without error: it is told apart here
            raise InventoryError(f"{p}: is a folder; name the inventory file")
        if not stat.S_ISREG(mode):
            raise InventoryError(f"{p}: not a regular file (a device, pipe or socket); the inventory must be "
                                 "a YAML file")
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise InventoryError(f"{p}: cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)


def load_inventory(path: str | None = None) -> Inventory:
    """Read and validate the inventory file named by the argument or HEDGEHOG_SYNC_INVENTORY."""
    p = Path(inventory_path(path))
    cap = max_inventory_bytes()
    data = _read_capped(p, cap)
    if len(data) > cap:
        raise InventoryError(f"{p}: inventory is over the {cap} byte limit; split the fleet or raise "
                             f"{MAX_INVENTORY_BYTES_ENV}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InventoryError(f"{p}: not UTF-8 text; the inventory must be a YAML file") from None
    return parse_inventory(text, str(p))
