"""Multi-document YAML from a GitOps repository into Hedgehog objects, one finding per bad input."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Callable, Iterable

import yaml

from hedgehog_sync.domain.kinds import kind_for, is_hedgehog_group, split_api_version
from hedgehog_sync.domain.model import Finding, Obj, ResourceId
from hedgehog_sync.domain.yamljson import Budget, BudgetExceeded, DocumentError, load_documents


@dataclass(frozen=True)
class ParseLimits:
    """Bounds that keep a hostile or broken file from hurting the fabric or the process."""

    max_file_bytes: int = 8 * 1024 * 1024
    max_documents_per_file: int = 20_000
    max_depth: int = 64
    # Alias expansion bombs and node floods: at most this many nodes per file, aliases expanded.
    max_expanded_nodes: int = 1_000_000
    # Kubernetes refuses objects over 1.5 MiB (etcd's request limit): no single value is larger.
    max_scalar_chars: int = 1_572_864


DEFAULT_LIMITS = ParseLimits()

# What YAML means here (cached parses are keyed by a digest of this file and yamljson.py, so a change
# to either makes them again: cycle.PARSER_VERSION).
YAML_RULES = "go-yaml v2.4 via sigs.k8s.io/yaml v1.4, revision 1"

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class ParsedFile:
    objects: list[Obj] = field(default_factory=list)
    documents: list[int] = field(default_factory=list)  # 1-based document index of each object
    findings: list[Finding] = field(default_factory=list)
    # With parse_files: (file path, document index) of each object, aligned with `objects`.
    sources: list[tuple[str, int]] = field(default_factory=list)


def is_candidate_file(path: str) -> bool:
    """Whether a repository file holds desired state (NetBox plugin layout aware, docs/contracts.md#hedgehog-resources)."""
    p = PurePosixPath(path)
    if p.suffix.lower() not in YAML_SUFFIXES:
        return False
    parts = p.parts
    # `.hnp/` is the NetBox plugin's bookkeeping, `unmanaged/` what it was told to leave alone,
    # and any other dot-folder (.github, .git-crypt) is tooling, not fabric state.
    for part in parts[:-1]:
        if part == "unmanaged" or part.startswith("."):
            return False
    return not parts[-1].startswith(".")


def expanded_size(node: yaml.Node, limit: int) -> int:
    """Nodes after alias expansion, computed on the composed graph (aliases share nodes): no blow-up.

    Returns more than `limit` when over it, or when an alias refers to a node that contains it.
    """
    memo: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        key = id(current)
        if isinstance(current, yaml.ScalarNode):
            memo[key] = 1
            continue
        children = ([n for pair in current.value for n in pair] if isinstance(current, yaml.MappingNode)
                    else list(current.value))
        if children_done:
            open_nodes.discard(key)
            memo[key] = min(limit + 1, 1 + sum(memo[id(c)] for c in children))
            continue
        if key in memo:
            continue
        open_nodes.add(key)
        stack.append((current, True))
        for child in children:
            if id(child) in open_nodes:
                return limit + 1  # recursive alias: infinite when expanded
            if id(child) not in memo:
                stack.append((child, False))
    return memo[id(node)]


def parse_file(path: str, data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedFile:
    """Parse one file's bytes; never raises for bad content, returns findings instead.

    Values mean what Kubernetes' YAML-to-JSON conversion makes of them (see yamljson), and every
    limit holds while the file is read, so a hostile file costs at most its budget.
    """
    out = ParsedFile()
    if len(data) > limits.max_file_bytes:
        out.findings.append(Finding(path, f"file is {len(data)} bytes, over the limit of "
                                          f"{limits.max_file_bytes}; split it or raise the limit"))
        return out
    if b"\x00" in data:
        out.findings.append(Finding(path, "file is binary (has NUL bytes), not YAML"))
        return out
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        out.findings.append(Finding(path, f"file is not UTF-8 text (byte {exc.start})"))
        return out
    budget = Budget(max_nodes=limits.max_expanded_nodes, max_depth=limits.max_depth,
                    max_scalar_chars=limits.max_scalar_chars, max_documents=limits.max_documents_per_file)
    try:
        docs = load_documents(text, budget)
    except BudgetExceeded as exc:
        out.findings.append(Finding(path, f"file has {exc}; refusing it (split the file, or raise the "
                                          "limit if it is genuine)" if not str(exc).startswith("nested")
                                    else f"file is {exc}"))
        return out
    except yaml.YAMLError as exc:
        out.findings.append(Finding(path, _yaml_error_text(exc, text)))
        return out
    for index, doc in enumerate(docs, start=1):
        if isinstance(doc, DocumentError):
            where = f" at line {doc.error.line}, column {doc.error.column}" if doc.error.line else ""
            out.findings.append(Finding(path, f"YAML value error{where}: {doc.error}", document=index))
            continue
        _take_document(path, index, doc, out)
    return out


def _yaml_error_text(exc: yaml.YAMLError, text: str) -> str:
    """The problem, where it is (1-based; a mark past the last line is the end of the file), and what
    construct it broke (the context, e.g. the flow mapping left open)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return f"YAML syntax error: {problem}"
    where = _line_of(mark, text)
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        started = _line_of(context_mark, text)
        problem += f" ({context} at {started})" if started != where else f" ({context})"
    return f"YAML syntax error at {where}: {problem}"


def _line_of(mark: Any, text: str) -> str:
    """PyYAML's marks are 0-based; at the end of a file that ends in a newline they point past the last
    line, which an editor does not show: say the last line's end instead."""
    lines = text.splitlines() or [""]
    if mark.line + 1 > len(lines) or mark.index >= len(text):
        # PyYAML counts no column for a U+FEFF (a byte order mark, or one left mid-file), nor does an editor
        return f"line {len(lines)}, column {len(lines[-1].replace(chr(0xFEFF), '')) + 1} (the end of the file)"
    return f"line {mark.line + 1}, column {mark.column + 1}"


# What the API server accepts as a name (apimachinery's IsDNS1123Subdomain).
DNS_1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


def is_dns_1123_subdomain(name: str) -> bool:
    return len(name) <= 253 and DNS_1123_SUBDOMAIN.match(name) is not None


def _take_document(path: str, index: int, doc: Any, out: ParsedFile) -> None:
    if doc is None:
        return  # empty documents (a trailing ---, comments only) are normal
    if not isinstance(doc, dict):
        what = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
            type(doc), type(doc).__name__)
        out.findings.append(Finding(path, f"document is {what}, not a mapping", level="warning", document=index))
        return
    api_version = doc.get("apiVersion")
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind or not isinstance(api_version, str) or not api_version:
        out.findings.append(Finding(path, "document has no apiVersion or kind; not a Kubernetes object",
                                    level="warning", document=index))
        return
    group, version = split_api_version(api_version)
    if not is_hedgehog_group(group):
        out.findings.append(Finding(path, f"{kind} ({api_version}) is not a Hedgehog resource; ignored",
                                    level="warning", document=index))
        return
    known = kind_for(group, kind)
    if known is None:
        out.findings.append(Finding(path, f"unknown Hedgehog kind {kind} ({api_version}); ignored",
                                    level="warning", document=index))
        return
    if version != known.version:
        out.findings.append(Finding(
            path, f"{kind} uses {api_version}, which the fabric no longer serves; "
                  f"upgrade it to {known.api_version}", document=index))
        return
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta.get("name"):
        out.findings.append(Finding(path, f"{kind} has no metadata.name (a non-empty string)", document=index))
        return
    name = meta["name"]
    if not is_dns_1123_subdomain(name):
        shown = name if len(name) <= 80 else name[:79] + "…"
        out.findings.append(Finding(
            path, f"{kind} name {shown!r} is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', "
                  "at most 253 characters): the API server refuses it", level="warning", document=index))
    out.objects.append(doc)
    out.documents.append(index)


def parse_files(files: Iterable[tuple[str, bytes]],
                parse: Callable[[str, bytes], ParsedFile] | None = None) -> ParsedFile:
    """Parse many files, in path order, into one result, flagging an identity defined twice."""
    parse = parse or parse_file
    merged = ParsedFile()
    seen: dict[ResourceId, tuple[str, int]] = {}
    for path, data in sorted(files, key=lambda f: f[0]):
        parsed = parse(path, data)
        merged.findings.extend(parsed.findings)
        for obj, doc_index in zip(parsed.objects, parsed.documents):
            rid = ResourceId.of(obj)
            first = seen.get(rid)
            if first is not None:
                merged.findings.append(Finding(
                    path, f"{rid.kind} {rid.name} is defined twice: here and in {first[0]} "
                          f"(document {first[1]}); keep one of them", document=doc_index))
                continue
            seen[rid] = (path, doc_index)
            merged.objects.append(obj)
            merged.documents.append(doc_index)
            merged.sources.append((path, doc_index))
    return merged
