"""Multi-document YAML from a GitOps repository into Hedgehog objects, one finding per bad input."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Callable, Iterable

import re

import yaml

from hedgehog_sync.domain.kinds import kind_for, is_hedgehog_group, split_api_version
from hedgehog_sync.domain.model import Finding, Obj, ResourceId

try:  # the C loader parses about 7x faster; fall back where libyaml is absent
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


@dataclass(frozen=True)
class ParseLimits:
    """Bounds that keep a hostile or broken file from hurting the fabric or the process."""

    max_file_bytes: int = 8 * 1024 * 1024
    max_documents_per_file: int = 20_000
    max_depth: int = 64
    # Alias expansion bombs: at most this many nodes per file once aliases are expanded.
    max_expanded_nodes: int = 2_000_000


DEFAULT_LIMITS = ParseLimits()

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class ParsedFile:
    objects: list[Obj] = field(default_factory=list)
    documents: list[int] = field(default_factory=list)  # 1-based document index of each object
    findings: list[Finding] = field(default_factory=list)
    # With parse_files: (file path, document index) of each object, aligned with `objects`.
    sources: list[tuple[str, int]] = field(default_factory=list)


def is_candidate_file(path: str) -> bool:
    """Whether a repository file holds desired state (NetBox plugin layout aware, DESIGN section 4)."""
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


def _expanded_size(node: yaml.Node, limit: int) -> int:
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


_BRACKETS = re.compile(rb"[\[\]{}]")


def _flow_depth_exceeds(data: bytes, limit: int) -> bool:
    """Whether flow collections ([ {) may nest deeper than limit. libyaml's composer recurses in C
    and overflows the stack (a segfault, not an exception) on a few ten thousand levels, so this
    runs before it. Brackets inside quoted strings can only make the estimate too high; then the
    scanner, which does not recurse, gives the true depth."""
    depth = deepest = 0
    for m in _BRACKETS.finditer(data):
        if m.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth = max(0, depth - 1)
    if deepest <= limit:
        return False
    depth = 0
    start = (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken,
             yaml.BlockSequenceStartToken, yaml.BlockMappingStartToken)
    end = (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken, yaml.BlockEndToken)
    try:
        for token in yaml.scan(data, Loader=_BaseLoader):
            if isinstance(token, start):
                depth += 1
                if depth > limit:
                    return True
            elif isinstance(token, end):
                depth -= 1
    except yaml.YAMLError:
        return False  # the loader reports the syntax error with its position
    return False


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of plain data, stopping early past the limit (iterative: no recursion bombs)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, d = stack.pop()
        if d > deepest:
            deepest = d
            if deepest > limit:
                return deepest
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return deepest


def parse_file(path: str, data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedFile:
    """Parse one file's bytes; never raises for bad content, returns findings instead."""
    out = ParsedFile()
    if len(data) > limits.max_file_bytes:
        out.findings.append(Finding(path, f"file is {len(data)} bytes, over the limit of "
                                          f"{limits.max_file_bytes}; split it or raise the limit"))
        return out
    if b"\x00" in data:
        out.findings.append(Finding(path, "file is binary (has NUL bytes), not YAML"))
        return out
    if _flow_depth_exceeds(data, limits.max_depth):
        out.findings.append(Finding(path, f"file is nested deeper than {limits.max_depth} levels"))
        return out
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        out.findings.append(Finding(path, f"file is not UTF-8 text (byte {exc.start})"))
        return out
    try:
        docs = _load_all(text, limits)
    except _TooManyDocuments:
        out.findings.append(Finding(path, f"file has more than {limits.max_documents_per_file} "
                                          "YAML documents; split it or raise the limit"))
        return out
    except _TooLarge:
        out.findings.append(Finding(path, f"file expands to more than {limits.max_expanded_nodes} "
                                          "YAML nodes through aliases; refusing it as a possible alias bomb"))
        return out
    except yaml.YAMLError as exc:
        out.findings.append(Finding(path, _yaml_error_text(exc)))
        return out
    except RecursionError:
        out.findings.append(Finding(path, f"file is nested deeper than {limits.max_depth} levels"))
        return out
    for index, doc in enumerate(docs, start=1):
        _take_document(path, index, doc, limits, out)
    return out


class _TooManyDocuments(Exception):
    pass


class _TooLarge(Exception):
    pass


def _load_all(text: str, limits: ParseLimits) -> list[Any]:
    """Compose each document, check its expanded size, only then build Python objects from it."""
    loader = _BaseLoader(text)
    docs: list[Any] = []
    budget = limits.max_expanded_nodes
    try:
        while loader.check_node():
            if len(docs) >= limits.max_documents_per_file:
                raise _TooManyDocuments()
            node = loader.get_node()
            if node is None:
                docs.append(None)
                continue
            budget -= _expanded_size(node, budget)
            if budget < 0:
                raise _TooLarge()
            docs.append(loader.construct_document(node))
    finally:
        loader.dispose()
    return docs


def _yaml_error_text(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"YAML syntax error: {problem}"


def _take_document(path: str, index: int, doc: Any, limits: ParseLimits, out: ParsedFile) -> None:
    if doc is None:
        return  # empty documents (a trailing ---, comments only) are normal
    if not isinstance(doc, dict):
        out.findings.append(Finding(path, f"document is a {type(doc).__name__}, not a mapping",
                                    level="warning", document=index))
        return
    if _depth(doc, limits.max_depth) > limits.max_depth:
        out.findings.append(Finding(path, f"document is nested deeper than {limits.max_depth} levels",
                                    document=index))
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
        out.findings.append(Finding(path, f"{kind} has no metadata.name", document=index))
        return
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
