"""YAML values mean what Kubernetes' own YAML-to-JSON conversion makes of them.

Expected values are written from go-yaml v2 (go.yaml.in/yaml/v2 v2.4, which sigs.k8s.io/yaml v1.4+
and so kubectl 1.3x use), never from our implementation:
- resolve.go: the resolve table (y/Y/yes/on/true..., n/no/off/false..., ~/null/empty, .nan/.inf),
  the first-character hint, `strconv.ParseInt(plain, 0, 64)` after removing `_`, then ParseUint,
  then the yamlStyleFloat regexp with ParseFloat, then math/big; "Base 60 floats ... are purposefully
  unsupported"; parseTimestamp's four time.Parse formats;
- decode.go (v2): a timestamp given to an interface{} is set "as a string" (n.value); !!binary is
  base64-decoded; tags on collections are not looked at; merge (`<<`) values are decoded into the map
  in document order, a sequence of maps from last to first;
- sigs.k8s.io/yaml yaml.go convertToJSONableObject: int keys via strconv.Itoa, float keys via
  FormatFloat(f, 'g', -1, 32), bool keys "true"/"false", any other key type an error; json.Marshal
  then refuses NaN and Inf ("json: unsupported value").
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import example, given, settings, strategies as st

from hedgehog_sync.domain.parsing import parse_file
from hedgehog_sync.domain.yamljson import Budget, DocumentError, go_float32_key, load_documents

BUDGET = Budget(max_nodes=10_000, max_depth=64, max_scalar_chars=10_000, max_documents=100)
ERROR = object()  # kubectl refuses the document


def load_value(text: str):
    (doc,) = load_documents(f"v: {text}\n", BUDGET)
    if isinstance(doc, DocumentError):
        return ERROR
    return doc["v"]


# (plain YAML text of a value, what kubectl's conversion gives): resolve.go's order of attempts.
SCALARS = [
    # dates and times: parseTimestamp succeeds, decode.go hands the text to interface{}
    ("2024-01-01", "2024-01-01"),
    ("2024-1-2", "2024-1-2"),
    ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    ("2001-12-14T21:59:43Z", "2001-12-14T21:59:43Z"),
    ("2001-12-14 21:59:43.10", "2001-12-14 21:59:43.10"),
    ("2001-12-14 21:59:43.10 -5", "2001-12-14 21:59:43.10 -5"),  # not a Go format: a string anyway
    ("2024-02-30", "2024-02-30"),
    # booleans: resolveMap, three casings each, y/n included (YAML 1.1), nothing else
    ("yes", True), ("Yes", True), ("YES", True), ("y", True), ("Y", True), ("on", True), ("On", True),
    ("ON", True), ("true", True), ("True", True), ("TRUE", True),
    ("no", False), ("No", False), ("NO", False), ("n", False), ("N", False), ("off", False), ("Off", False),
    ("OFF", False), ("false", False), ("False", False), ("FALSE", False),
    ("yEs", "yEs"), ("oN", "oN"), ("tRUE", "tRUE"),
    # null
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("", None), ("nULL", "nULL"),
    # integers: strconv.ParseInt(s, 0, 64) with every `_` removed
    ("0", 0), ("-0", 0), ("+12", 12), ("1_000", 1000), ("1__0", 10), ("1_", 1),
    ("0777", 511), ("0o17", 15), ("0O17", 15), ("0x1F", 31), ("0X1f", 31), ("+0x1F", 31), ("-0x1F", -31),
    ("0x_1F", 31), ("0b101", 5), ("-0b101", -5), ("0B11", 3),
    ("9223372036854775807", 9223372036854775807), ("-9223372036854775808", -9223372036854775808),
    ("9223372036854775808", 9223372036854775808),  # ParseUint: uint64
    ("18446744073709551615", 18446744073709551615),
    ("18446744073709551616", 18446744073709551616.0),  # past uint64, float-like: ParseFloat
    ("0x10000000000000000", 2 ** 64),  # past uint64, not float-like: math/big
    ("-0x10000000000000000", "-0x10000000000000000"),  # ParseUint takes no sign, big is never tried
    # floats: the yamlStyleFloat regexp, then ParseFloat
    ("1.5", 1.5), ("1.", 1.0), ("-1.5e3", -1500.0), ("1e3", 1000.0), ("1E3", 1000.0), ("6.8523015e+5", 685230.15),
    ("08", 8.0), ("09.5", 9.5), ("1_000.5", 1000.5), (".5", 0.5), (".5e1", 5.0), ("+.5", 0.5),
    ("1e400", "1e400"),  # ParseFloat's range error: the text stays a string
    ("1.0e+400", "1.0e+400"),
    ("._5", "._5"), (".5_0", ".5_0"),
    # sexagesimal and other YAML 1.1 numbers go-yaml does not support
    ("1:20", "1:20"), ("190:20:30", "190:20:30"), ("1:20.5", "1:20.5"), ("0x", "0x"), ("0b2", "0b2"),
    ("1_2_3.x", "1_2_3.x"), ("12e", "12e"), ("0.1.2", "0.1.2"),
    # NaN and infinities resolve, but json.Marshal refuses them
    (".nan", ERROR), (".NaN", ERROR), (".NAN", ERROR), (".inf", ERROR), (".Inf", ERROR), ("+.inf", ERROR),
    ("-.inf", ERROR), ("-.INF", ERROR), (".Nan", ".Nan"), ("nan", "nan"), ("inf", "inf"), ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    # what PyYAML resolves specially but go-yaml does not
    ("=", "="), ("<<", "<<"),
    # quoted and block scalars are strings whatever they hold
    ("'2024-01-01'", "2024-01-01"), ('"yes"', "yes"), ("'0x1F'", "0x1F"), ("|\n  yes", "yes\n"),
    ("'.nan'", ".nan"),
    # explicit core tags: resolve(tag, value) and its deferred check
    ("!!str 123", "123"), ("!!str yes", "yes"), ("!!int '42'", 42), ("!!int 0x1F", 31), ("!!float 1", 1.0),
    ("!!float '1.5'", 1.5), ("!!bool yes", True), ("!!bool 'n'", False), ("!!null ''", None), ("!!null ~", None),
    ("!!timestamp 2026-11-28", "2026-11-28"), ("!!timestamp 2026-11-28T12:00:00Z", "2026-11-28T12:00:00Z"),
    ("!!int abc", ERROR), ("!!int 1.5", ERROR), ("!!bool 1", ERROR), ("!!null x", ERROR),
    ("!!timestamp nope", ERROR), ("!!timestamp 2024-13-01", ERROR), ("!!float .nan", ERROR),
    ("!!int", ERROR),
    # !!binary: base64, decoded; json.Marshal writes invalid UTF-8 as U+FFFD, one per byte
    ("!!binary aGVsbG8=", "hello"), ("!!binary '/w=='", "\ufffd"), ("!!binary '4oI='", "\ufffd\ufffd"),
    ("!!binary |\n  aGVs\n  bG8=", "hello"), ("!!binary '!!!'", ERROR), ("!!binary aGVsbG8", ERROR),
    # other tags are not looked at: the text (or collection) counts
    ("!custom 12", "12"), ("! 12", "12"), ("!!python/object:os.system x", "x"), ("!!set x", "x"),
    ("!<tag:example.com,2000:x> 2", "2"),
]


# Ids on one line: pytest cannot take back a node id whose escaped newline follows a '|' (mutmut runs
# each mutant's tests by node id).
@pytest.mark.parametrize(("text", "expected"), SCALARS, ids=[t.replace("\n", " NL ") for t, _ in SCALARS])
def test_scalar_means_what_kubectl_sends(text: str, expected) -> None:
    got = load_value(text)
    if expected is ERROR:
        assert got is ERROR
        return
    assert got == expected and type(got) is type(expected), (got, expected)


COLLECTIONS = [
    # tags on collections are ignored: !!set is a map of nulls, !!omap and !!pairs lists of maps
    ("!!set {a, b}", {"a": None, "b": None}),
    ("!!omap [{k: 1}, {j: 2}]", [{"k": 1}, {"j": 2}]),
    ("!!pairs [{k: 1}, {k: 2}]", [{"k": 1}, {"k": 2}]),
    ("!!str {a: 1}", {"a": 1}),
    ("!foo [1, yes]", [1, True]),
    # keys become strings; null and collection keys are refused
    ("{1: a, 0x10: b, 1.5: c, 1e6: d, 100000: e, y: g, off: h, 2024-01-01: i, .inf: j}",
     {"1": "a", "16": "b", "1.5": "c", "1e+06": "d", "100000": "e", "true": "g", "false": "h",
      "2024-01-01": "i", ".inf": "j"}),
    ("{~: a}", ERROR), ("{[1]: a}", ERROR), ("{{a: 1}: b}", ERROR), ("{18446744073709551615: a}", ERROR),
    # a key given twice is refused (kubectl's strict decoding), also when two spellings meet as JSON
    ("{a: 1, a: 2}", ERROR), ("{1: a, '1': b}", ERROR), ("{y: 1, true: 2}", ERROR),
    # merge keys, in document order: later keys win, earlier maps of a merge list win
    ("{<<: {a: 1, b: 2}, b: 3}", {"a": 1, "b": 3}),
    ("{b: 3, <<: {a: 1, b: 2}}", {"a": 1, "b": 2}),
    ("{<<: [{a: 1}, {a: 2, b: 2}]}", {"a": 1, "b": 2}),
    ("{<<: 1}", ERROR), ("{<<: [1]}", ERROR),
    ("{'<<': {a: 1}}", {"<<": {"a": 1}}),
]


@pytest.mark.parametrize(("text", "expected"), COLLECTIONS, ids=[t for t, _ in COLLECTIONS])
def test_collection_means_what_kubectl_sends(text: str, expected) -> None:
    assert load_value(text) == expected if expected is not ERROR else load_value(text) is ERROR


def test_anchors_and_aliases_copy_the_value() -> None:
    (doc,) = load_documents("base: &b {x: 1, z: 2}\nmerged:\n  <<: *b\n  z: 3\nlist: [*b, *b]\n", BUDGET)
    assert doc == {"base": {"x": 1, "z": 2}, "merged": {"x": 1, "z": 3}, "list": [{"x": 1, "z": 2}] * 2}


@pytest.mark.parametrize(("text", "expected"), [
    (1.5, "1.5"), (1000.0, "1000"), (1e6, "1e+06"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5, "-2.5"), (0.1, "0.1"), (3.4e39, ".inf"),
    (123456789.0, "1.2345679e+08"), (float("nan"), ".nan"), (-float("inf"), "-.inf"),
])
def test_float_keys_as_go_formats_them(text: float, expected: str) -> None:
    """FormatFloat(f, 'g', -1, 32): shortest float32 digits, exponent form below 1e-4 and from 1e6."""
    assert go_float32_key(text) == expected


def test_unquoted_date_annotation_is_in_sync_with_the_live_string() -> None:
    from hedgehog_sync.domain.diff import compare

    git = (b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: vpc-1\n"
           b"  annotations: {reviewed: 2024-01-01}\nspec: {}\n")
    (desired,) = parse_file("v.yaml", git).objects
    live = json.loads(json.dumps({**desired, "metadata": {"name": "vpc-1",
                                                          "annotations": {"reviewed": "2024-01-01"}}}))
    assert compare([desired], [live]).counts["in_sync"] == 1
    json.dumps(desired, allow_nan=False)  # plain JSON data, nothing else


_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 63), 2 ** 63 - 1),
                       st.floats(allow_nan=False, allow_infinity=False),
                       st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"), max_size=12))
_json = st.recursive(_json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"), max_size=6), inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(value=_json)
def test_json_text_is_unchanged(value) -> None:
    """sigs.k8s.io/yaml: "Since JSON is a subset of YAML, passing JSON through this method should be a
    no-op" (integers within int64; floats by value)."""
    (doc,) = load_documents(json.dumps(value, ensure_ascii=False), BUDGET)
    assert doc == value
    assert json.dumps(doc, sort_keys=True) == json.dumps(value, sort_keys=True) or _same_numbers(doc, value)


def _same_numbers(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_numbers(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_numbers(x, y) for x, y in zip(a, b))
    return a == b or (isinstance(a, float) and math.isclose(a, b))


@settings(max_examples=200, deadline=None)
@example(digits="9" * 400, sign="", tag="!!float")  # the case found
@example(digits="9" * 400, sign="-", tag="")
@given(digits=st.text("0123456789", min_size=1, max_size=1200), sign=st.sampled_from(["", "-", "+"]),
       tag=st.sampled_from(["!!float", "!!int", ""]))
def test_a_number_of_any_size_under_any_tag_is_a_value_or_a_finding_never_a_crash(digits, sign, tag) -> None:
    """A 400-digit `!!float` raised OverflowError out of the parser (found by mutation testing):
    whatever the size, a number is decoded or named in a finding for its file."""
    data = (b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {name: x}\n"
            + f"spec: {{v: {tag} {sign}{digits}}}\n".encode())
    parsed = parse_file("vpcs/x.yaml", data)
    assert parsed.objects or [f for f in parsed.findings if f.source == "vpcs/x.yaml"]
