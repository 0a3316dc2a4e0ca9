"""YAML text to JSON data as Kubernetes converts it (sigs.k8s.io/yaml over go-yaml v2), within budgets.

kubectl never sees YAML types: sigs.k8s.io/yaml decodes each document with go-yaml v2 (YAML 1.1 rules
of its own, not PyYAML's) and converts the result to JSON. A file in Git means what that conversion
makes of it, so this module reproduces it, read from go-yaml v2's resolve.go and decode.go and
sigs.k8s.io/yaml's yaml.go (kubectl 1.3x: sigs.k8s.io/yaml v1.4+, go.yaml.in/yaml/v2 v2.4):

- a plain scalar that looks like a date or time stays the string it is (decode.go gives the text of a
  timestamp to an interface{});
- y/Y/yes/on/true (and n/no/off/false, any of their three casings) are booleans; ~, null and the
  empty plain scalar are null; `=` and `<<` (as a value) are strings;
- integers by Go's strconv.ParseInt(s, 0, 64) after removing every `_`: 0x1F, 0o17, 0b101, 0777
  (octal), +12; too large for int64 they are uint64, or a float when they look like one; sexagesimal
  `1:20` is a string; `1e3` and `08` are floats;
- .inf, .nan and their kin are floats JSON cannot hold: an error, as json.Marshal refuses them;
- !!binary is base64, decoded to text (invalid UTF-8 as U+FFFD, as json.Marshal writes it);
- tags other than the core scalar ones are ignored (!!set, !!omap, !foo): the node's value counts;
- keys become strings (1 -> "1", true -> "true", 1.5 -> "1.5"); a null, list or map key is an error;
- merge keys `<<` merge in document order, as go-yaml v2 does (a later key wins);
- a key given twice in one mapping is an error, as kubectl's strict decoding says.

The C parser's events are turned into data directly (no node graph, no recursion), so every budget
holds while the file is read: nodes after alias expansion, nesting depth and scalar size.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

try:  # the C parser; events are read one by one, nothing recurses in C or Python
    from yaml import CSafeLoader as _EventSource
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _EventSource  # type: ignore[assignment]

_TAG = "tag:yaml.org,2002:"
STR, BOOL, INT, FLOAT, NULL, TIMESTAMP, BINARY = (_TAG + t for t in (
    "str", "bool", "int", "float", "null", "timestamp", "binary"))
_RESOLVABLE = frozenset({STR, BOOL, INT, FLOAT, NULL, TIMESTAMP})

# resolve.go: the first character says what a plain scalar may be; anything else is a string.
_HINT = {**dict.fromkeys("+-", "S"), **dict.fromkeys("0123456789", "D"),
         **dict.fromkeys("yYnNtTfFoO~", "M"), ".": "."}
_NAN, _INF = float("nan"), float("inf")
_RESOLVE_MAP: dict[str, tuple[str, Any]] = {
    **{s: (BOOL, True) for s in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")},
    **{s: (BOOL, False) for s in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")},
    **{s: (NULL, None) for s in ("", "~", "null", "Null", "NULL")},
    **{s: (FLOAT, _NAN) for s in (".nan", ".NaN", ".NAN")},
    **{s: (FLOAT, _INF) for s in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{s: (FLOAT, -_INF) for s in ("-.inf", "-.Inf", "-.INF")},
    "<<": (_TAG + "merge", "<<"),
}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?\Z")  # what Go's ParseFloat takes after a dot
_GO_DIGITS = {16: re.compile(r"[0-9a-fA-F]+\Z"), 8: re.compile(r"[0-7]+\Z"), 2: re.compile(r"[01]+\Z"),
              10: re.compile(r"[0-9]+\Z")}
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2 ** 63), 2 ** 63 - 1, 2 ** 64 - 1
# The formats go-yaml tries with time.Parse (a subset of yaml.org/type/timestamp).
_TIMESTAMP = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d{1,9})?"
                        r"(?:Z|[+-]\d{2}:\d{2}))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d{1,9})?))?\Z")


class YamlValueError(ValueError):
    """A document whose data kubectl's conversion refuses; names the line."""

    def __init__(self, message: str, mark: Any = None):
        self.line = mark.line + 1 if mark is not None else None
        self.column = mark.column + 1 if mark is not None else None
        super().__init__(message)


class BudgetExceeded(Exception):
    """A file over one of the limits; the message names the limit."""


def _go_parse_int(s: str, unsigned: bool) -> int | None:
    """strconv.ParseInt/ParseUint(s, 0, 64) syntax (ranges are checked by the caller)."""
    sign = 1
    if s[:1] in ("+", "-"):
        if unsigned:
            return None
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    base = 10
    if len(s) > 1 and s[0] == "0":
        prefix = s[1].lower()
        if prefix in ("x", "o", "b"):
            base, s = {"x": 16, "o": 8, "b": 2}[prefix], s[2:]
        else:
            base, s = 8, s[1:]
    if not s or len(s) > 4000 or not _GO_DIGITS[base].match(s):
        return None  # past 4000 digits Python cannot print it back as JSON: kept as text
    return sign * int(s, base)


def _resolve_number(plain: str) -> tuple[str, Any] | None:
    value = _go_parse_int(plain, unsigned=False)
    if value is not None and _INT64_MIN <= value <= _INT64_MAX:
        return INT, value
    unsigned = _go_parse_int(plain, unsigned=True)
    if unsigned is not None and unsigned <= _UINT64_MAX:
        return INT, unsigned
    if _YAML_STYLE_FLOAT.match(plain):
        number = float(plain)
        if not math.isinf(number):  # out of range: ParseFloat fails, and the text stays a string
            return FLOAT, number
    if unsigned is not None:  # past uint64 and not float-like (0x...): math/big takes it
        return INT, unsigned
    return None


def _is_timestamp(s: str) -> bool:
    m = _TIMESTAMP.match(s)
    if not m:
        return False
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    hms = [int(g) for g in (m.group(4, 5, 6) if m.group(4) else m.group(7, 8, 9)) if g is not None]
    try:
        datetime(year, month, day, *hms)
    except ValueError:  # time.Parse checks ranges too (month 13, February 30, hour 25)
        return False
    return True


def resolve(tag: str, value: str) -> tuple[str, Any]:
    """go-yaml v2's resolve(): the tag and value of a scalar; `tag` is "" for a plain untagged one.

    A timestamp resolves to its text, as decode.go hands it to an interface{}.
    """
    rtag: str = STR
    out: Any = value
    hint = _HINT.get(value[0]) if value else "N"
    if hint and tag != STR:
        item = _RESOLVE_MAP.get(value)
        if item is not None:
            rtag, out = item
        elif hint == ".":
            if _DOT_FLOAT.match(value):
                number = float(value)
                if not math.isinf(number):
                    rtag, out = FLOAT, number
        elif hint in ("D", "S"):
            if tag in ("", TIMESTAMP) and _is_timestamp(value):
                rtag, out = TIMESTAMP, value
            else:
                number = _resolve_number(value.replace("_", ""))
                if number is not None:
                    rtag, out = number
    if tag in ("", rtag, STR):
        return rtag, out
    if tag == FLOAT and rtag == INT:
        try:
            return FLOAT, float(out)
        except OverflowError:  # beyond any float64 (go-yaml cannot hold it as an int either)
            pass
    raise ValueError(f"cannot decode !!{rtag.rpartition(':')[2]} `{_short(value)}` as a !!{tag.rpartition(':')[2]}")


def _short(value: str, width: int = 40) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def go_json_text(data: bytes) -> str:
    """Bytes as json.Marshal writes a Go string holding them: each invalid byte is one U+FFFD."""
    out: list[str] = []
    i = 0
    while i < len(data):
        for size in (1, 2, 3, 4):
            chunk = data[i:i + size]
            try:
                out.append(chunk.decode("utf-8"))
            except UnicodeDecodeError:
                continue
            i += size
            break
        else:
            out.append("\ufffd")
            i += 1
    return "".join(out)


def go_float32_key(number: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 32), as sigs.k8s.io/yaml spells a float map key."""
    if math.isnan(number):
        return ".nan"
    try:
        f32 = struct.unpack("f", struct.pack("f", number))[0]
    except OverflowError:
        f32 = math.copysign(_INF, number)
    if math.isinf(f32):
        return ".inf" if f32 > 0 else "-.inf"
    for precision in range(1, 10):  # the shortest decimal that reads back as the same float32
        text = f"{f32:.{precision - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            break
    mantissa, _, exponent = text.partition("e")
    negative = mantissa.startswith("-")
    digits = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    exp = int(exponent)
    sign = "-" if negative else ""
    if exp < -4 or exp >= 6:  # shortest 'g' decides with precision 6
        frac = digits[1:]
        return f"{sign}{digits[0]}{'.' + frac if frac else ''}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    whole, frac = digits[:exp + 1].ljust(exp + 1, "0"), digits[exp + 1:]
    return f"{sign}{whole}{'.' + frac if frac else ''}"


def json_key(key: Any, mark: Any) -> str:
    """convertToJSONableObject's map keys: strings, ints, floats and bools become strings."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int) and _INT64_MIN <= key <= _INT64_MAX:
        return str(key)
    if isinstance(key, float):
        return go_float32_key(key)
    kind = {type(None): "null", int: "an integer past int64", dict: "a mapping", list: "a sequence"}.get(
        type(key), type(key).__name__)
    raise YamlValueError(f"a mapping key is {kind}; Kubernetes (JSON) keys are strings", mark)


@dataclass(frozen=True)
class Budget:
    max_nodes: int  # per file, aliases expanded
    max_depth: int  # a scalar is 1, a mapping of scalars 2
    max_scalar_chars: int
    max_documents: int


class _Anchor:
    __slots__ = ("value", "done", "nodes", "height")

    def __init__(self) -> None:
        self.value: Any = None
        self.done = False
        self.nodes = 0
        self.height = 1


class _Frame:
    """A mapping or sequence being built."""

    __slots__ = ("value", "is_map", "key", "key_mark", "has_key", "merging", "keys", "anchor", "start_nodes",
                 "height", "mark")

    def __init__(self, value: Any, is_map: bool, anchor: _Anchor | None, start_nodes: int, mark: Any):
        self.mark = mark
        self.value = value
        self.is_map = is_map
        self.key: Any = None
        self.key_mark: Any = None
        self.has_key = False
        self.merging = False
        self.keys: dict[str, int] = {}  # key -> line it was first given on
        self.anchor = anchor
        self.start_nodes = start_nodes
        self.height = 1  # levels below and including this collection


class DocumentError:
    """A document kubectl's conversion refuses: the reason, with its line."""

    def __init__(self, error: YamlValueError):
        self.error = error


def load_documents(text: str, budget: Budget) -> list[Any]:
    """Every document of text as JSON data (None for an empty one), or a DocumentError in its place.

    Raises yaml.YAMLError for a syntax error, BudgetExceeded when the file is over a limit.
    """
    parser = _EventSource(text)
    docs: list[Any] = []
    nodes = 0
    try:
        while True:
            event = parser.get_event()
            kind = type(event)
            if kind is yaml.StreamEndEvent:
                break
            if kind is not yaml.DocumentStartEvent:
                continue
            if len(docs) >= budget.max_documents:
                raise BudgetExceeded(f"more than {budget.max_documents} YAML documents")
            try:
                value, nodes = _document(parser, budget, nodes)
                docs.append(value)
            except YamlValueError as exc:
                nodes = _skip_document(parser, budget, nodes)
                docs.append(DocumentError(exc))
    finally:
        parser.dispose()
    return docs


def _skip_document(parser: Any, budget: Budget, nodes: int) -> int:
    """Read to the end of a refused document, within the budget."""
    while True:
        event = parser.get_event()
        if type(event) is yaml.DocumentEndEvent:
            return nodes
        nodes += 1
        if nodes > budget.max_nodes:
            raise BudgetExceeded(f"more than {budget.max_nodes} YAML nodes")


def _scalar_value(event: Any) -> Any:
    tag = event.tag
    value = event.value
    if tag is None or tag == "!":
        if tag is None and event.implicit[0]:
            if not value or value[0] in _HINT:
                return resolve("", value)[1]
        return value
    if tag in _RESOLVABLE:
        try:
            _, out = resolve(tag, value)
        except ValueError as exc:
            raise YamlValueError(str(exc), event.start_mark) from None
        return out
    if tag == BINARY:
        try:
            raw = base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            raise YamlValueError("!!binary value contains invalid base64 data", event.start_mark) from None
        return go_json_text(raw)
    return value  # any other tag: go-yaml keeps the text


def _document(parser: Any, budget: Budget, nodes: int) -> tuple[Any, int]:
    anchors: dict[str, _Anchor] = {}
    stack: list[_Frame] = []
    root: Any = None
    max_nodes, max_depth, max_scalar = budget.max_nodes, budget.max_depth, budget.max_scalar_chars
    while True:
        event = parser.get_event()
        kind = type(event)
        height = 1
        mark = None
        if kind is yaml.ScalarEvent:
            nodes += 1
            if len(event.value) > max_scalar:
                raise BudgetExceeded(f"a value of {len(event.value)} characters at line "
                                     f"{event.start_mark.line + 1}, over the limit of {max_scalar}")
            value = _scalar_value(event)
            if event.anchor is not None:
                anchor = anchors[event.anchor] = _Anchor()
                anchor.value, anchor.done, anchor.nodes = value, True, 1
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            nodes += 1
            if len(stack) + 1 >= max_depth:
                raise BudgetExceeded(f"nested deeper than {max_depth} levels")
            is_map = kind is yaml.MappingStartEvent
            anchor = None
            if event.anchor is not None:
                anchor = anchors[event.anchor] = _Anchor()
                anchor.value = {} if is_map else []
            frame = _Frame(anchor.value if anchor else ({} if is_map else []), is_map, anchor, nodes - 1,
                           event.start_mark)
            stack.append(frame)
            if nodes > max_nodes:
                raise BudgetExceeded(f"more than {max_nodes} YAML nodes")
            continue
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            frame = stack.pop()
            value = frame.value
            mark = frame.mark
            height = frame.height
            if frame.anchor is not None:
                frame.anchor.done = True
                frame.anchor.nodes = nodes - frame.start_nodes
                frame.anchor.height = height
        elif kind is yaml.AliasEvent:
            anchor = anchors.get(event.anchor)
            if anchor is None:
                raise YamlValueError(f"unknown anchor '{event.anchor}' referenced", event.start_mark)
            if not anchor.done:
                raise YamlValueError(f"alias *{event.anchor} is inside the node it refers to (anchor "
                                     f"'{event.anchor}' value contains itself)", event.start_mark)
            nodes += anchor.nodes
            if nodes > max_nodes:
                raise BudgetExceeded(f"more than {max_nodes} YAML nodes once aliases are expanded "
                                     "(a possible alias bomb)")
            height = anchor.height
            if len(stack) + height > max_depth:
                raise BudgetExceeded(f"nested deeper than {max_depth} levels")
            value = anchor.value
        elif kind is yaml.DocumentEndEvent:
            return root, nodes
        else:  # pragma: no cover - the parser emits nothing else inside a document
            continue
        if nodes > max_nodes:
            raise BudgetExceeded(f"more than {max_nodes} YAML nodes")
        if type(value) is float and not math.isfinite(value) and not (
                stack and stack[-1].is_map and not stack[-1].has_key):
            raise YamlValueError(f"value {getattr(event, 'value', '') or value} is not a number JSON can hold "
                                 "(json.Marshal refuses it, and so does kubectl); quote it for a string",
                                 event.start_mark)
        if not stack:
            root = value
            continue
        parent = stack[-1]
        if parent.height < height + 1:
            parent.height = height + 1
        if not parent.is_map:
            parent.value.append(value)
        elif not parent.has_key:
            if kind is yaml.ScalarEvent and event.value == "<<" and (
                    (event.tag is None and event.implicit[0]) or event.tag == _TAG + "merge"):
                parent.merging = True
            elif isinstance(value, (dict, list)):
                raise YamlValueError("a mapping key is a collection; Kubernetes (JSON) keys are strings",
                                     mark if kind is not yaml.AliasEvent else event.start_mark)
            else:
                parent.key = json_key(value, event.start_mark)
            parent.key_mark = event.start_mark
            parent.has_key = True
        else:
            parent.has_key = False
            if parent.merging:
                parent.merging = False
                _merge(parent.value, value, parent.key_mark)
                continue
            key = parent.key
            line = parent.key_mark.line + 1
            first = parent.keys.get(key)
            if first is not None:
                raise YamlValueError(f"mapping key {_short(key)!r} is given twice (first at line {first}); "
                                     "kubectl refuses the file: keep one", parent.key_mark)
            parent.keys[key] = line
            parent.value[key] = value


def _merge(target: dict[str, Any], value: Any, mark: Any) -> None:
    """decode.go's merge: a map, or a list of maps of which the earlier win, written over the keys so far."""
    if isinstance(value, dict):
        target.update(value)
        return
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        for item in reversed(value):
            target.update(item)
        return
    raise YamlValueError("map merge requires map or sequence of maps as the value", mark)
