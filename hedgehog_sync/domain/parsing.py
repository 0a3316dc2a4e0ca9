"""Multi-document YAML from a GitOps repository into Hedgehog objects, one finding per bad input."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from collections.abc import Hashable
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


_expanded_size = expanded_size  # the name the property tests use


def _may_nest_too_deep(data: bytes, limit: int) -> bool:
    """Whether a document in data may nest deeper than limit (flow and block collections alike)."""
    return _nesting(data, limit) is not _SHALLOW and _scanned_depth_exceeds(data, limit)


_SHALLOW = "shallow"  # the bound proves every document within the limit
_UNPROVEN = "unproven"  # the scanner must count, and each document's depth be checked once built


def _nesting(data: bytes, limit: int) -> str:
    """Whether a sound bound proves that no document in data nests deeper than limit.

    libyaml's composer recurses in C and overflows the stack (a segfault, not an exception) on some
    ten thousand levels, so this runs before it: a bound that never underestimates, computed by
    C-level scans. Flow depth is at most the number of [ and { that do not close at once (a `]`
    inside a quoted string cannot lower it), and block collections start only where a line's
    indentation, indicators (- ? :), `---` and node properties (&anchor, !tag) end, at most two per
    column. When the bound is over the limit, the token scanner (which does not recurse) decides.
    """
    empty_pairs = data.count(b"[]") + data.count(b"{}")
    flow = data.count(b"[") + data.count(b"{") - empty_pairs + (1 if empty_pairs else 0)
    # A block collection starts at most 2 columns past the items before a line's content (after
    # `--- `, one item for three columns), and at most two share a column (a sequence at its
    # mapping's column): block depth <= 2 * (items + 3). Plus flow depth, plus the scalar level.
    room = (limit - flow - 1) // 2 - 3
    if room >= 0 and not _line_start_longer_than(room).search(_lines(data)):
        return _SHALLOW
    return _UNPROVEN


# Every line break YAML knows besides \n: CR, NEL, LS, PS (as UTF-8).
_OTHER_BREAKS = (b"\r", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")


def _lines(data: bytes) -> bytes:
    """data with every YAML line break as \n, so that `^` finds each line (a CR alone breaks one too)."""
    for other in _OTHER_BREAKS:
        if other in data:
            data = data.replace(other, b"\n")
    return data


@functools.lru_cache(maxsize=64)
def _line_start_longer_than(items: int) -> re.Pattern[bytes]:
    """A line with more than `items` blanks, indicators, `---` and node properties before its content."""
    end = rb"(?=[ \t\r\n]|\Z)"
    item = rb"(?:[ \t]|[-?:]" + end + rb"|---" + end + rb"|[&!][^ \t\r\n]*" + end + rb")"
    return re.compile(rb"^" + item + rb"{%d}" % (items + 1), re.MULTILINE)


def _scanned_depth_exceeds(data: bytes, limit: int) -> bool:
    """Depth by the token scanner. A sequence at its mapping's column has no start token of its own,
    so this may count up to half the true depth: enough to keep the composer's recursion small, and
    each document's exact depth is checked once it is built."""
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
        return False  # the loader reports the syntax error, at a point no deeper than counted here
    return False


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of plain data (a scalar is 1, a mapping of scalars 2), stopping early past the
    limit; iterative, so no recursion bombs, and it visits containers only."""
    if not isinstance(value, (dict, list)):
        return 1
    deepest = 1
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, d = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if children and d + 1 > deepest:
            deepest = d + 1  # its children, scalars or not, are one level down
            if deepest > limit:
                return deepest
        stack.extend((c, d + 1) for c in children if isinstance(c, (dict, list)))
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
    nesting = _nesting(data, limits.max_depth)
    if nesting is _UNPROVEN and _scanned_depth_exceeds(data, limits.max_depth):
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
    except _SCALAR_ERRORS as exc:  # from SafeConstructor, when a document needed it
        out.findings.append(Finding(path, f"YAML value cannot be read: {type(exc).__name__}: {str(exc)[:200]}"))
        return out
    for index, doc in enumerate(docs, start=1):
        _take_document(path, index, doc, limits, out, check_depth=nesting is _UNPROVEN)
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
    # Only aliases expand, and an alias needs an anchor (`&`). Without one, every node takes at least
    # half a character of the text (`[:,:]` is the densest YAML gets), so a short text cannot be over.
    anchored = "&" in text
    count_nodes = anchored or 2 * len(text) + 2 > budget
    try:
        while loader.check_node():
            if len(docs) >= limits.max_documents_per_file:
                raise _TooManyDocuments()
            node = loader.get_node()
            if node is None:
                docs.append(None)
                continue
            if count_nodes:
                budget -= expanded_size(node, budget)
                if budget < 0:
                    raise _TooLarge()
            docs.append(_construct(loader, node, anchored))
    finally:
        loader.dispose()
    return docs


# --- building Python data from composed nodes ---------------------------------------------------------
#
# PyYAML's SafeConstructor is written in Python and general (two-phase generators for recursive data,
# multi-constructors, state kept on the loader): it takes most of a load's time, even with the C
# parser. GitOps YAML holds maps, sequences and a few scalar types, so those are built directly here,
# with PyYAML's own functions for every scalar that is not a string. Anything else (merge keys, `=`,
# !!set, !!omap, unknown tags, unhashable keys, a node that contains itself) is left to
# SafeConstructor for the whole document, so the result, or the error, is always the one PyYAML gives.

_TAG = "tag:yaml.org,2002:"
_STR_TAG, _MAP_TAG, _SEQ_TAG = _TAG + "str", _TAG + "map", _TAG + "seq"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("null", "bool", "int", "float", "timestamp", "binary"))
_BUILDING = object()


# What PyYAML's scalar constructors raise for a value their tag cannot hold (`!!int abc`, a number of
# more digits than Python converts): plain Python errors, not YAMLError.
_SCALAR_ERRORS = (ValueError, KeyError, IndexError, AttributeError, TypeError, OverflowError)


def _unreadable_scalar(node: yaml.Node, exc: BaseException) -> yaml.YAMLError:
    shown = node.value if len(node.value) <= 40 else node.value[:39] + "…"
    return yaml.constructor.ConstructorError(
        None, None, f"{shown!r} is not a valid {node.tag.rpartition(':')[2]} ({type(exc).__name__})",
        node.start_mark)


class _NeedsSafeConstructor(Exception):
    """A document with something only PyYAML's SafeConstructor builds (or rejects) correctly."""


def _construct(loader: Any, node: yaml.Node, anchored: bool) -> Any:
    try:
        # Aliased nodes must come back as one shared object, as PyYAML returns them: remember each
        # node built. Without an anchor in the text no node is shared, and nothing need be remembered.
        return _build(node, loader, {} if anchored else None)
    except _NeedsSafeConstructor:
        return loader.construct_document(node)


def _build(node: yaml.Node, loader: Any, built: dict[int, Any] | None) -> Any:
    if built is not None and id(node) in built:
        found = built[id(node)]
        if found is _BUILDING:
            raise _NeedsSafeConstructor  # a collection that contains itself
        return found
    tag, kind = node.tag, type(node)
    if kind is yaml.ScalarNode:
        if tag == _STR_TAG:
            return node.value
        if tag in _SCALAR_TAGS:
            try:
                return loader.yaml_constructors[tag](loader, node)
            except _SCALAR_ERRORS as exc:
                raise _unreadable_scalar(node, exc) from None
        raise _NeedsSafeConstructor
    if kind is yaml.MappingNode and tag == _MAP_TAG:
        if built is not None:
            built[id(node)] = _BUILDING
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if type(key_node) is yaml.ScalarNode and key_node.tag == _STR_TAG:
                key = key_node.value
            else:
                key = _build(key_node, loader, built)  # merge (<<) and value (=) keys have their own tags
                if not isinstance(key, Hashable):
                    raise _NeedsSafeConstructor
            if type(value_node) is yaml.ScalarNode and value_node.tag == _STR_TAG:
                mapping[key] = value_node.value
            else:
                mapping[key] = _build(value_node, loader, built)
        if built is not None:
            built[id(node)] = mapping
        return mapping
    if kind is yaml.SequenceNode and tag == _SEQ_TAG:
        if built is not None:
            built[id(node)] = _BUILDING
        sequence = [item.value if type(item) is yaml.ScalarNode and item.tag == _STR_TAG
                    else _build(item, loader, built) for item in node.value]
        if built is not None:
            built[id(node)] = sequence
        return sequence
    raise _NeedsSafeConstructor


def _yaml_error_text(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    what = "YAML value error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
    if mark is not None:
        return f"{what} at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"{what}: {problem}"


def _take_document(path: str, index: int, doc: Any, limits: ParseLimits, out: ParsedFile,
                   check_depth: bool = True) -> None:
    if doc is None:
        return  # empty documents (a trailing ---, comments only) are normal
    if not isinstance(doc, dict):
        out.findings.append(Finding(path, f"document is a {type(doc).__name__}, not a mapping",
                                    level="warning", document=index))
        return
    if check_depth and _depth(doc, limits.max_depth) > limits.max_depth:
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
