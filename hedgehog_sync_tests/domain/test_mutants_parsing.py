"""Parsing, YAML-to-JSON and normalization pinned value by value (issue 19: mutation score of parsing).

The budgets are security limits: each is checked at its exact boundary (the limit passes, one more is
refused) with the finding an operator reads. Values follow sigs.k8s.io/yaml over go-yaml v2 (see
yamljson's docstring); messages are the ones parse_file documents, written out in full.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hedgehog_sync.domain.model import Finding
from hedgehog_sync.domain.parsing import (
    DEFAULT_LIMITS,
    ParseLimits,
    expanded_size,
    is_candidate_file,
    is_dns_1123_subdomain,
    parse_file,
    parse_files,
)
from hedgehog_sync.domain.yamljson import (
    Budget,
    BudgetExceeded,
    DocumentError,
    YamlValueError,
    go_float32_key,
    go_json_text,
    json_key,
    load_documents,
    resolve,
)

def params(names: Any, table: Any) -> Any:
    """parametrize with plain numbered ids: the values hold characters pytest node ids cannot take."""
    table = list(table)
    return pytest.mark.parametrize(names, table, ids=[f"case{i}" for i in range(len(table))])


NO_KIND = "document has no apiVersion or kind; not a Kubernetes object"
REFUSE = "; refusing it (split the file, or raise the limit if it is genuine)"
VPC_DOC = "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {name: v%d}\n"


def messages(parsed) -> list[str]:
    return [f.message for f in parsed.findings]


# --- the defaults are the documented ones -------------------------------------------------------------

def test_default_limits() -> None:
    assert DEFAULT_LIMITS == ParseLimits()
    assert (DEFAULT_LIMITS.max_file_bytes, DEFAULT_LIMITS.max_documents_per_file, DEFAULT_LIMITS.max_depth,
            DEFAULT_LIMITS.max_expanded_nodes, DEFAULT_LIMITS.max_scalar_chars) == (
        8 * 1024 * 1024, 20_000, 64, 1_000_000, 1_572_864)


# --- budgets at their boundaries -----------------------------------------------------------------------

def test_file_size_limit_is_inclusive() -> None:
    data = b"a: 1\n"  # 5 bytes
    assert messages(parse_file("f.yaml", data, ParseLimits(max_file_bytes=5))) == [NO_KIND]
    assert parse_file("f.yaml", data, ParseLimits(max_file_bytes=4)).findings == [
        Finding("f.yaml", "file is 5 bytes, over the limit of 4; split it or raise the limit")]


def test_default_file_size_limit_boundary() -> None:
    limit = 8 * 1024 * 1024
    data = b"a: 1\n" + b"#" * (limit - 6) + b"\n"
    assert len(data) == limit
    assert messages(parse_file("f.yaml", data)) == [NO_KIND]
    assert messages(parse_file("f.yaml", data + b"\n")) == [
        f"file is {limit + 1} bytes, over the limit of {limit}; split it or raise the limit"]


def test_document_count_limit_is_inclusive() -> None:
    data = "\n---\n".join(VPC_DOC % i for i in range(3)).encode()
    parsed = parse_file("f.yaml", data, ParseLimits(max_documents_per_file=3))
    assert parsed.findings == [] and parsed.documents == [1, 2, 3]
    assert parse_file("f.yaml", data, ParseLimits(max_documents_per_file=2)).findings == [
        Finding("f.yaml", "file has more than 2 YAML documents" + REFUSE)]


def test_document_budget_direct() -> None:
    budget = Budget(max_nodes=100, max_depth=10, max_scalar_chars=100, max_documents=2)
    assert load_documents("a\n---\nb\n", budget) == ["a", "b"]
    with pytest.raises(BudgetExceeded, match=r"^more than 2 YAML documents$"):
        load_documents("a\n---\nb\n---\nc\n", budget)


# depth: a scalar is 1, a mapping of scalars 2 (Budget's own words)
@params(("text", "depth"), [
    ("{a: 1}", 2), ("[1]", 2), ("{a: [1]}", 3), ("{a: {b: [1]}}", 4), ("[[[[1]]]]", 5),
    ("{}", 2), ("{a: {}}", 3), ("[[]]", 3),  # an empty collection is as deep as one of scalars
    # an alias counts as deep as its anchor's value
    ("{a: &x {b: 1}, c: {d: {e: *x}}}", 5), ("{a: &x [[1]], c: [*x]}", 5), ("{a: &x 1, c: [[*x]]}", 4),
    ("[&x [], [*x]]", 3),
])
def test_depth_limit_is_inclusive(text: str, depth: int) -> None:
    def budget(max_depth: int) -> Budget:
        return Budget(max_nodes=1000, max_depth=max_depth, max_scalar_chars=100, max_documents=10)

    assert len(load_documents(text, budget(depth))) == 1
    with pytest.raises(BudgetExceeded, match=rf"^nested deeper than {depth - 1} levels$"):
        load_documents(text, budget(depth - 1))


def test_depth_limit_finding() -> None:
    data = b"a: {b: {c: 1}}\n"  # depth 4
    assert messages(parse_file("d.yaml", data, ParseLimits(max_depth=4))) == [NO_KIND]
    assert parse_file("d.yaml", data, ParseLimits(max_depth=3)).findings == [
        Finding("d.yaml", "file is nested deeper than 3 levels")]


def test_default_depth_limit_boundary() -> None:
    at_limit = b"a: " + b"[" * 62 + b"1" + b"]" * 62 + b"\n"  # 1 mapping, 62 lists, 1 scalar: 64
    assert messages(parse_file("d.yaml", at_limit)) == [NO_KIND]
    over = b"a: " + b"[" * 63 + b"1" + b"]" * 63 + b"\n"
    assert messages(parse_file("d.yaml", over)) == ["file is nested deeper than 64 levels"]


# nodes: every scalar, mapping and sequence, aliases counted as often as used, per file
@params(("text", "nodes"), [
    ("a", 1), ("[1, 2]", 3), ("{a: 1}", 3), ("{a: [1, 2]}", 5), ("[]", 1), ("{}", 1),
    ("a\n---\nb\n", 2), ("[1]\n---\n[2, 3]\n", 5),
])
def test_node_limit_is_inclusive(text: str, nodes: int) -> None:
    def budget(max_nodes: int) -> Budget:
        return Budget(max_nodes=max_nodes, max_depth=10, max_scalar_chars=100, max_documents=10)

    load_documents(text, budget(nodes))
    with pytest.raises(BudgetExceeded, match=rf"^more than {nodes - 1} YAML nodes$"):
        load_documents(text, budget(nodes - 1))


@params(("text", "nodes"), [
    # map, a, seq, 1, 2, b, then the alias: the 3 nodes of its anchor
    ("{a: &x [1, 2], b: *x}", 9),
    ("{a: &x 1, b: *x}", 5),
    ("[&x {k: v}, *x, *x]", 10),
    ("{a: &x [1, 2], b: [*x, *x]}", 13),
])
def test_alias_expansion_limit_is_inclusive(text: str, nodes: int) -> None:
    def budget(max_nodes: int) -> Budget:
        return Budget(max_nodes=max_nodes, max_depth=10, max_scalar_chars=100, max_documents=10)

    load_documents(text, budget(nodes))
    with pytest.raises(BudgetExceeded, match=rf"^more than {nodes - 1} YAML nodes"):
        load_documents(text, budget(nodes - 1))


def test_alias_bomb_finding() -> None:
    data = b"a: &x [1, 2]\nb: *x\n"  # map, a, seq, 1, 2, b, +3 = 9
    assert messages(parse_file("b.yaml", data, ParseLimits(max_expanded_nodes=9))) == [NO_KIND]
    assert parse_file("b.yaml", data, ParseLimits(max_expanded_nodes=8)).findings == [Finding(
        "b.yaml", "file has more than 8 YAML nodes once aliases are expanded (a possible alias bomb)" + REFUSE)]


def test_node_limit_finding() -> None:
    data = b"a: [1, 2]\n"  # 5 nodes
    assert messages(parse_file("n.yaml", data, ParseLimits(max_expanded_nodes=5))) == [NO_KIND]
    assert parse_file("n.yaml", data, ParseLimits(max_expanded_nodes=4)).findings == [
        Finding("n.yaml", "file has more than 4 YAML nodes" + REFUSE)]


def test_a_refused_document_is_read_to_its_end_within_the_node_budget() -> None:
    # The sequence and the refused scalar (!!int x) are read, then the rest is skipped event by event:
    # 1, 2, 3 and the sequence's end count 4. (The refused document's nodes before the error are not
    # added to the file's count: the skip starts from the count before the document.)
    text = "[!!int x, 1, 2, 3]\n"

    def budget(max_nodes: int) -> Budget:
        return Budget(max_nodes=max_nodes, max_depth=10, max_scalar_chars=100, max_documents=10)

    (doc,) = load_documents(text, budget(4))
    assert isinstance(doc, DocumentError)
    assert (doc.error.line, doc.error.column, str(doc.error)) == (1, 2, "cannot decode !!str `x` as a !!int")
    with pytest.raises(BudgetExceeded, match=r"^more than 3 YAML nodes$"):
        load_documents(text, budget(3))
    # the document after a refused one is read, and counts from where the skip ended: 4 + [x] = 6
    docs = load_documents(text + "---\n[x]\n", budget(6))
    assert isinstance(docs[0], DocumentError) and docs[1] == ["x"]
    with pytest.raises(BudgetExceeded, match=r"^more than 5 YAML nodes$"):
        load_documents(text + "---\n[x]\n", budget(5))


def test_scalar_size_limit_is_inclusive() -> None:
    data = b"k: " + b"x" * 10 + b"\n"
    parsed = parse_file("s.yaml", data, ParseLimits(max_scalar_chars=10))
    assert messages(parsed) == [NO_KIND]
    assert parse_file("s.yaml", data, ParseLimits(max_scalar_chars=9)).findings == [
        Finding("s.yaml", "file has a value of 10 characters at line 1, over the limit of 9" + REFUSE)]
    keyed = b"a: 1\n\n" + b"y" * 10 + b": 1\n"  # a key is a value too, and the line is the editor's
    assert messages(parse_file("s.yaml", keyed, ParseLimits(max_scalar_chars=10))) == [NO_KIND]
    assert messages(parse_file("s.yaml", keyed, ParseLimits(max_scalar_chars=9))) == [
        "file has a value of 10 characters at line 3, over the limit of 9" + REFUSE]


def test_default_scalar_size_limit_boundary() -> None:
    limit = 1_572_864
    assert messages(parse_file("s.yaml", b"k: " + b"x" * limit + b"\n")) == [NO_KIND]
    assert messages(parse_file("s.yaml", b"k: " + b"x" * (limit + 1) + b"\n")) == [
        f"file has a value of {limit + 1} characters at line 1, over the limit of {limit}" + REFUSE]


# --- expanded_size (the inventory's budget) ----------------------------------------------------------

@params(("text", "size"), [
    ("a", 1), ("[1, 2]", 3), ("{a: 1}", 3), ("{a: &x [1, 2], b: *x}", 9), ("[&x [1, [2]], *x, *x]", 13),
    ("{}", 1), ("[[], []]", 3),
])
def test_expanded_size(text: str, size: int) -> None:
    node = yaml.compose(text)
    assert expanded_size(node, 1000) == size
    assert expanded_size(node, size) == size
    assert expanded_size(node, size - 1) == size  # more than the limit: at most limit + 1 ...
    assert expanded_size(node, 1) == min(size, 2)  # ... and never more


def test_expanded_size_of_a_recursive_alias_is_over_the_limit() -> None:
    node = yaml.compose("a: &x [1, *x]\n")
    assert expanded_size(node, 1000) == 1001
    assert expanded_size(node, 5) == 6


def test_expanded_size_caps_a_bomb() -> None:
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    assert expanded_size(yaml.compose(text), 1_000_000) == 1_000_001


# --- what each finding says ------------------------------------------------------------------------------

def test_binary_and_encoding_findings() -> None:
    assert parse_file("b.yaml", b"a: 1\x00\n").findings == [
        Finding("b.yaml", "file is binary (has NUL bytes), not YAML")]
    assert parse_file("b.yaml", b"a: \xff\n").findings == [Finding("b.yaml", "file is not UTF-8 text (byte 3)")]
    assert parse_file("b.yaml", b"ab: \xc3\xa9\xc3\n").findings == [
        Finding("b.yaml", "file is not UTF-8 text (byte 6)")]


@params(("doc", "what"), [
    ("[1]", "a list"), ("hello", "a string"), ("'x'", "a string"), ("true", "a boolean"), ("12", "a number"),
    ("1.5", "a number"),
])
def test_a_document_that_is_not_a_mapping(doc: str, what: str) -> None:
    data = f"{VPC_DOC % 1}---\n{doc}\n".encode()
    parsed = parse_file("m.yaml", data)
    assert parsed.findings == [Finding("m.yaml", f"document is {what}, not a mapping", level="warning", document=2)]
    assert parsed.documents == [1]


@params("doc", [
    "{kind: VPC}", "{apiVersion: vpc.githedgehog.com/v1beta1}", "{kind: '', apiVersion: vpc.githedgehog.com/v1beta1}",
    "{kind: VPC, apiVersion: ''}", "{kind: 1, apiVersion: vpc.githedgehog.com/v1beta1}", "{kind: VPC, apiVersion: 1}",
    "{a: 1}",
])
def test_a_document_without_kind_or_api_version(doc: str) -> None:
    assert parse_file("k.yaml", doc.encode()).findings == [Finding(
        "k.yaml", "document has no apiVersion or kind; not a Kubernetes object", level="warning", document=1)]


def test_kind_and_version_findings() -> None:
    data = (b"{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n---\n"
            b"{apiVersion: apps/v1, kind: Deployment, metadata: {name: c}}\n---\n"
            b"{apiVersion: vpc.githedgehog.com/v1beta1, kind: Gadget, metadata: {name: g}}\n---\n"
            b"{apiVersion: wiring.githedgehog.com/v1alpha2, kind: Switch, metadata: {name: s}}\n---\n"
            b"{apiVersion: vpc.githedgehog.com/v1beta1, kind: VPC}\n---\n"
            b"{apiVersion: vpc.githedgehog.com/v1beta1, kind: VPC, metadata: {name: ''}}\n---\n"
            b"{apiVersion: vpc.githedgehog.com/v1beta1, kind: VPC, metadata: {name: 3}}\n---\n"
            b"{apiVersion: vpc.githedgehog.com/v1beta1, kind: VPC, metadata: [name]}\n---\n"
            b"{apiVersion: vpc.githedgehog.com/v1beta1, kind: VPC, metadata: {name: ok}}\n")
    parsed = parse_file("k.yaml", data)
    assert parsed.findings == [
        Finding("k.yaml", "ConfigMap (v1) is not a Hedgehog resource; ignored", level="warning", document=1),
        Finding("k.yaml", "Deployment (apps/v1) is not a Hedgehog resource; ignored", level="warning", document=2),
        Finding("k.yaml", "unknown Hedgehog kind Gadget (vpc.githedgehog.com/v1beta1); ignored", level="warning",
                document=3),
        Finding("k.yaml", "Switch uses wiring.githedgehog.com/v1alpha2, which the fabric no longer serves; "
                          "upgrade it to wiring.githedgehog.com/v1beta1", document=4),
        *(Finding("k.yaml", "VPC has no metadata.name (a non-empty string)", document=i) for i in (5, 6, 7, 8)),
    ]
    assert parsed.documents == [9]
    assert [o["metadata"]["name"] for o in parsed.objects] == ["ok"]


def test_a_long_bad_name_is_cut_in_the_finding() -> None:
    name = "X" * 100
    parsed = parse_file("n.yaml", f"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {{name: {name}}}\n"
                        .encode())
    shown = "X" * 79 + "…"
    assert parsed.findings == [Finding(
        "n.yaml", f"VPC name {shown!r} is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', "
                  "at most 253 characters): the API server refuses it", level="warning", document=1)]
    exactly_80 = "Y" * 80
    parsed = parse_file("n.yaml", f"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {{name: {exactly_80}}}\n"
                        .encode())
    assert repr(exactly_80) in parsed.findings[0].message


@params(("name", "valid"), [
    ("a", True), ("0", True), ("a-b", True), ("a.b", True), ("a" * 253, True), ("a." * 126 + "a", True),
    ("a" * 254, False), ("", False), ("A", False), ("a_b", False), ("-a", False), ("a-", False), ("a.", False),
    (".a", False), ("a\n", False), ("a..b", False), ("a.-b", False),
])
def test_dns_1123_subdomain(name: str, valid: bool) -> None:
    assert is_dns_1123_subdomain(name) is valid


def test_value_error_finding_names_its_line_and_document() -> None:
    data = f"{VPC_DOC % 1}---\na: 1\nb: .inf\n---\n{VPC_DOC % 2}".encode()
    parsed = parse_file("v.yaml", data)
    assert parsed.findings == [Finding(
        "v.yaml", "YAML value error at line 6, column 4: value .inf is not a number JSON can hold (json.Marshal "
                  "refuses it, and so does kubectl); quote it for a string", document=2)]
    assert parsed.documents == [1, 3]


@params(("data", "message"), [
    (b"a: [1, 2\n", "YAML syntax error at line 1, column 9 (the end of the file): did not find expected ',' or ']' "
                    "(while parsing a flow sequence at line 1, column 4)"),
    (b"a: [1, 2", "YAML syntax error at line 1, column 9 (the end of the file): did not find expected ',' or ']' "
                  "(while parsing a flow sequence at line 1, column 4)"),
    (b"a: {b: 1\n", "YAML syntax error at line 1, column 9 (the end of the file): did not find expected ',' or '}' "
                    "(while parsing a flow mapping at line 1, column 4)"),
    (b"a: 1\n b: 2\n", "YAML syntax error at line 2, column 3: mapping values are not allowed in this context"),
    (b"a: 'x\n", "YAML syntax error at line 1, column 6 (the end of the file): found unexpected end of stream "
                 "(while scanning a quoted scalar at line 1, column 4)"),
    (b"x: 1\ny: 2\na: 'x\n\n", "YAML syntax error at line 4, column 1 (the end of the file): found unexpected end "
                                "of stream (while scanning a quoted scalar at line 3, column 4)"),
    (b"- a\nb: 1\n", "YAML syntax error at line 2, column 1: did not find expected '-' indicator "
                     "(while parsing a block collection at line 1, column 1)"),
    (b"a: *\n", "YAML syntax error at line 1, column 5: did not find expected alphabetic or numeric character "
                "(while scanning an alias at line 1, column 4)"),
    (b"a: \x01\n", "YAML syntax error: unacceptable character #x0001: control characters are not allowed"),
    (b"a: @x\n", "YAML syntax error at line 1, column 4: found character that cannot start any token "
                 "(while scanning for the next token)"),
    (b"%YAML 1.1\n%YAML 1.1\n---\na\n", "YAML syntax error at line 2, column 1: found duplicate %YAML directive"),
    (b"a:\n  - b\n c\n", "YAML syntax error at line 3, column 2: did not find expected key "
                         "(while parsing a block mapping at line 1, column 1)"),
])
def test_syntax_error_findings(data: bytes, message: str) -> None:
    assert parse_file("e.yaml", data).findings == [Finding("e.yaml", message)]


# --- parse_files ---------------------------------------------------------------------------------------

def test_parse_files_reads_in_path_order_and_refuses_a_second_definition() -> None:
    a = (VPC_DOC % 1 + "---\n" + VPC_DOC % 2).encode()
    b = (VPC_DOC % 2 + "---\n" + VPC_DOC % 3 + "---\nhello\n").encode()
    merged = parse_files([("z/b.yaml", a), ("a/a.yaml", b)])
    assert [o["metadata"]["name"] for o in merged.objects] == ["v2", "v3", "v1"]
    assert merged.documents == [1, 2, 1]
    assert merged.sources == [("a/a.yaml", 1), ("a/a.yaml", 2), ("z/b.yaml", 1)]
    assert merged.findings == [
        Finding("a/a.yaml", "document is a string, not a mapping", level="warning", document=3),
        Finding("z/b.yaml", "VPC v2 is defined twice: here and in a/a.yaml (document 1); keep one of them",
                document=2),
    ]


def test_parse_files_takes_the_parser_given() -> None:
    seen: list[str] = []

    def parse(path: str, data: bytes):
        seen.append(path)
        return parse_file(path, data, ParseLimits(max_file_bytes=1))

    merged = parse_files([("b.yaml", b"ab"), ("a.yaml", b"cd")], parse)
    assert seen == ["a.yaml", "b.yaml"]
    assert messages(merged) == ["file is 2 bytes, over the limit of 1; split it or raise the limit"] * 2


@params(("path", "candidate"), [
    ("a.yaml", True), ("a.yml", True), ("a.YAML", True), ("x/y/a.Yml", True), ("a.json", False), ("a", False),
    ("yaml", False), (".a.yaml", False), ("x/.a.yaml", False), (".github/a.yaml", False), ("x/.hnp/a.yaml", False),
    ("unmanaged/a.yaml", False), ("x/unmanaged/y/a.yaml", False), ("unmanaged.yaml", True),
    ("x/unmanaged2/a.yaml", True), ("x/un/a.yaml", True), ("a.yaml.bak", False),
])
def test_is_candidate_file(path: str, candidate: bool) -> None:
    assert is_candidate_file(path) is candidate


# --- yamljson: values, keys, merges and their errors -------------------------------------------------

BUDGET = Budget(max_nodes=10_000, max_depth=64, max_scalar_chars=10_000, max_documents=100)


def one(text: str) -> Any:
    (doc,) = load_documents(text, BUDGET)
    if isinstance(doc, DocumentError):
        return ("error", doc.error.line, doc.error.column, str(doc.error))
    return doc


@params(("text", "expected"), [
    # merge keys: a map, or a list of maps of which the earlier win; later explicit keys win over merged ones
    ("{<<: {a: 1, b: 2}, b: 3}", {"a": 1, "b": 3}),
    ("{b: 3, <<: {a: 1, b: 2}}", {"a": 1, "b": 2}),
    ("{<<: [{a: 1}, {a: 2, b: 2}]}", {"a": 1, "b": 2}),
    ("{<<: [{a: 1, c: 1}, {a: 2, b: 2}, {b: 3, c: 3}]}", {"a": 1, "b": 2, "c": 1}),
    ("{<<: []}", {}),
    ("{!!merge <<: {a: 1}}", {"a": 1}),
    ("{'<<': {a: 1}}", {"<<": {"a": 1}}),  # a quoted << is an ordinary key
    ("{<<: 1}", ("error", 1, 2, "map merge requires map or sequence of maps as the value")),
    ("{a: 1,\n <<: [{a: 1}, 2]}", ("error", 2, 2, "map merge requires map or sequence of maps as the value")),
    ("{<<: null}", ("error", 1, 2, "map merge requires map or sequence of maps as the value")),
    # keys
    ("{1: a, true: b, 1.5: c, 0x10: d, ~x: e}", {"1": "a", "true": "b", "1.5": "c", "16": "d", "~x": "e"}),
    ("{no: a, false: b}", ("error", 1, 9, "mapping key 'false' is given twice (first at line 1); kubectl "
                                          "refuses the file: keep one")),
    ("{null: a}", ("error", 1, 2, "a mapping key is null; Kubernetes (JSON) keys are strings")),
    ("{~: a}", ("error", 1, 2, "a mapping key is null; Kubernetes (JSON) keys are strings")),
    ("{[a]: a}", ("error", 1, 2, "a mapping key is a collection; Kubernetes (JSON) keys are strings")),
    ("{? {a: 1} : a}", ("error", 1, 4, "a mapping key is a collection; Kubernetes (JSON) keys are strings")),
    ("{x: &k [1], *k : a}", ("error", 1, 13, "a mapping key is a collection; Kubernetes (JSON) keys are strings")),
    ("{18446744073709551615: a}",
     ("error", 1, 2, "a mapping key is an integer past int64; Kubernetes (JSON) keys are strings")),
    ("{9223372036854775807: a, -9223372036854775808: b}",
     {"9223372036854775807": "a", "-9223372036854775808": "b"}),
    ("{9223372036854775808: a}",
     ("error", 1, 2, "a mapping key is an integer past int64; Kubernetes (JSON) keys are strings")),
    ("{.inf: a, -.inf: b, .nan: c}", {".inf": "a", "-.inf": "b", ".nan": "c"}),
    ("{a: 1,\n  b: 2,\n  a: 3}", ("error", 3, 3, "mapping key 'a' is given twice (first at line 1); kubectl "
                                                "refuses the file: keep one")),
    ("{" + "k" * 45 + ": 1, " + "k" * 45 + ": 2}",
     ("error", 1, 52, "mapping key '" + "k" * 39 + "…' is given twice (first at line 1); kubectl refuses the "
                      "file: keep one")),
    ("{" + "k" * 40 + ": 1, " + "k" * 40 + ": 2}",
     ("error", 1, 47, "mapping key '" + "k" * 40 + "' is given twice (first at line 1); kubectl refuses the "
                      "file: keep one")),
    # aliases
    ("{a: *nope}", ("error", 1, 5, "unknown anchor 'nope' referenced")),
    ("&x [1, *x]", ("error", 1, 8, "alias *x is inside the node it refers to (anchor 'x' value contains itself)")),
    ("[&x a, *x, *x]", ["a", "a", "a"]),
    # numbers JSON cannot hold
    ("[.nan]", ("error", 1, 2, "value .nan is not a number JSON can hold (json.Marshal refuses it, and so does "
                               "kubectl); quote it for a string")),
    ("{a: -.Inf}", ("error", 1, 5, "value -.Inf is not a number JSON can hold (json.Marshal refuses it, and so "
                                   "does kubectl); quote it for a string")),
    ("{a: !!float 1e400}", ("error", 1, 5, "cannot decode !!str `1e400` as a !!float")),
    ("{a: &f .inf, b: *f}", ("error", 1, 5, "value .inf is not a number JSON can hold (json.Marshal refuses it, "
                                            "and so does kubectl); quote it for a string")),
    ("{a: 1e400}", {"a": "1e400"}),
    # tags
    ("!!str 12", "12"), ("!!int '12'", 12), ("!!float 12", 12.0), ("!!bool yes", True), ("!!null ''", None),
    ("!!int 1.5", ("error", 1, 1, "cannot decode !!float `1.5` as a !!int")),
    ("!!bool 1", ("error", 1, 1, "cannot decode !!int `1` as a !!bool")),
    ("!!int " + "9" * 50, ("error", 1, 1, "cannot decode !!float `" + "9" * 39 + "…` as a !!int")),
    ("!!float " + "9" * 400, ("error", 1, 1, "cannot decode !!int `" + "9" * 39 + "…` as a !!float")),
    ("!!timestamp 2024-01-01", "2024-01-01"),
    ("!!timestamp 12", ("error", 1, 1, "cannot decode !!int `12` as a !!timestamp")),
    ("!foo 12", "12"), ("!!set {a: null}", {"a": None}), ("! 12", "12"), ("'12'", "12"),
    ("!!binary aGVsbG8=", "hello"), ("!!binary |\n  aGVs\n  bG8=\n", "hello"), ("!!binary /w==", "\ufffd"),
    ("!!binary aGVsbG8", ("error", 1, 1, "!!binary value contains invalid base64 data")),
    ("!!binary a*==", ("error", 1, 1, "!!binary value contains invalid base64 data")),
    ("[1, !!binary '\u00e9']", ("error", 1, 5, "!!binary value contains invalid base64 data")),
    # plain scalars
    ("=", "="), ("<<", "<<"), ("[<<]", ["<<"]), ("1:20", "1:20"), ("0777", 511), ("0o17", 15), ("0b101", 5),
    ("0x_1F", 31), ("1_000", 1000), ("+12", 12), ("-0x10", -16), ("08", 8.0), ("1e3", 1000.0), (".5", 0.5),
    ("-.5", -0.5), ("+.5e1", 5.0), (".5e", ".5e"), ("._5", "._5"), ("+", "+"), ("0x", "0x"),
    ("0", 0), ("-0", 0), ("00", 0), ("0b", "0b"), ("0b2", "0b2"), ("09", 9.0), ("0x1G", "0x1G"),
    ("18446744073709551615", 18446744073709551615), ("-9223372036854775809", -9223372036854775809.0),
    ("18446744073709551616", 18446744073709551616.0), ("0x10000000000000000", 0x10000000000000000),
    ("-0x8000000000000001", "-0x8000000000000001"), ("1" + "0" * 400, 10 ** 400),  # past float64: math/big
    ("0x" + "f" * 4001, "0x" + "f" * 4001), ("0x" + "f" * 3999, int("f" * 3999, 16)),
    ("2024-01-01", "2024-01-01"), ("2024-13-01", "2024-13-01"), ("2024-02-30 10:00:00", "2024-02-30 10:00:00"),
    ("2024-1-2", "2024-1-2"), ("2024-01-01T25:00:00Z", "2024-01-01T25:00:00Z"),
    ("Yes", True), ("yES", "yES"), ("OFF", False), ("Null", None), ("~", None), ("oN", "oN"),
    (".NaN", ("error", 1, 1, "value .NaN is not a number JSON can hold (json.Marshal refuses it, and so does "
                             "kubectl); quote it for a string")),
    ("'.nan'", ".nan"), ("\"yes\"", "yes"), ("y", True), ("Y", True), ("n", False), ("Tx", "Tx"),
])
def test_yaml_values(text: str, expected: Any) -> None:
    assert one(text) == expected


def test_value_error_carries_its_line_and_column() -> None:
    class Mark:
        line, column = 4, 9

    error = YamlValueError("bad", Mark())
    assert (error.line, error.column, str(error)) == (5, 10, "bad")
    bare = YamlValueError("bad")
    assert (bare.line, bare.column, str(bare)) == (None, None, "bad")


@params(("key", "expected"), [
    ("k", "k"), (True, "true"), (False, "false"), (0, "0"), (-5, "-5"), (2 ** 63 - 1, "9223372036854775807"),
    (-(2 ** 63), "-9223372036854775808"), (1.5, "1.5"), (2.0, "2"), (1e20, "1e+20"),
])
def test_json_key(key: Any, expected: str) -> None:
    assert json_key(key, None) == expected


@params(("key", "what"), [
    (None, "null"), (2 ** 63, "an integer past int64"), (-(2 ** 63) - 1, "an integer past int64"),
    ({}, "a mapping"), ([], "a sequence"), (b"x", "bytes"),
])
def test_json_key_refuses(key: Any, what: str) -> None:
    with pytest.raises(YamlValueError, match=rf"^a mapping key is {what}; Kubernetes \(JSON\) keys are strings$"):
        json_key(key, None)


@params(("number", "text"), [
    (0.0, "0"), (-0.0, "-0"), (1.0, "1"), (10.0, "10"), (100000.0, "100000"), (999999.0, "999999"),
    (1000000.0, "1e+06"), (0.5, "0.5"), (0.25, "0.25"), (0.001, "0.001"), (0.0001, "0.0001"),
    (0.00012, "0.00012"), (0.00009, "9e-05"), (1.5e-10, "1.5e-10"), (-1.5e-10, "-1.5e-10"),
    (1.5e10, "1.5e+10"), (-123.25, "-123.25"), (16777216.0, "1.6777216e+07"), (16777217.0, "1.6777216e+07"),
    (3.4028234663852886e38, "3.4028235e+38"), (1e39, ".inf"), (-1e39, "-.inf"), (1e-46, "0"), (1e-45, "1e-45"),
    (float("inf"), ".inf"), (1e308, ".inf"), (-1e308, "-.inf"), (123.456, "123.456"), (1.1, "1.1"),
    (12345.678, "12345.678"), (0.1 + 0.2, "0.3"), (1e100, ".inf"),
])
def test_go_float32_key(number: float, text: str) -> None:
    assert go_float32_key(number) == text


@params(("data", "text"), [
    (b"", ""), (b"abc", "abc"), (b"\xc3\xa9", "\u00e9"), (b"\xe2\x82\xac", "\u20ac"), (b"\xf0\x9f\x98\x80", "\U0001F600"),
    (b"\xff", "\ufffd"), (b"a\xffb", "a\ufffdb"), (b"\xc3", "\ufffd"), (b"\xc3a", "\ufffda"),
    (b"\xe2\x82", "\ufffd\ufffd"), (b"\xf0\x9f\x98", "\ufffd\ufffd\ufffd"), (b"\xff\xfe", "\ufffd\ufffd"),
    (b"\xe2\x82\xacx\xff", "\u20acx\ufffd"),
])
def test_go_json_text(data: bytes, text: str) -> None:
    assert go_json_text(data) == text


@params(("tag", "value", "expected"), [
    ("", "12", ("tag:yaml.org,2002:int", 12)),
    ("", "", ("tag:yaml.org,2002:null", None)),
    ("", "abc", ("tag:yaml.org,2002:str", "abc")),
    ("", "2024-01-01", ("tag:yaml.org,2002:timestamp", "2024-01-01")),
    ("tag:yaml.org,2002:str", "12", ("tag:yaml.org,2002:str", "12")),
    ("tag:yaml.org,2002:str", "", ("tag:yaml.org,2002:str", "")),
    ("tag:yaml.org,2002:float", "3", ("tag:yaml.org,2002:float", 3.0)),
    ("tag:yaml.org,2002:int", "0x10", ("tag:yaml.org,2002:int", 16)),
    ("tag:yaml.org,2002:timestamp", "2024-01-01", ("tag:yaml.org,2002:timestamp", "2024-01-01")),
    ("", ".5", ("tag:yaml.org,2002:float", 0.5)),
    ("", ".x", ("tag:yaml.org,2002:str", ".x")),
    ("", "-1e999", ("tag:yaml.org,2002:str", "-1e999")),
    ("", ".5e999", ("tag:yaml.org,2002:str", ".5e999")),
])
def test_resolve(tag: str, value: str, expected: tuple[str, Any]) -> None:
    assert resolve(tag, value) == expected


def test_resolve_refuses_with_the_tags_named() -> None:
    with pytest.raises(ValueError, match=r"^cannot decode !!str `abc` as a !!int$"):
        resolve("tag:yaml.org,2002:int", "abc")
    with pytest.raises(ValueError, match=r"^cannot decode !!null `` as a !!bool$"):
        resolve("tag:yaml.org,2002:bool", "")


# --- normalize: the form both sides are compared in -------------------------------------------------------

from hedgehog_sync.domain import normalize as n  # noqa: E402

VPC_API = "vpc.githedgehog.com/v1beta1"


def test_split_pointer_and_sort_key() -> None:
    assert n.split_pointer("") == [] and n.split_pointer("/") == []
    assert n.split_pointer("/a/b") == ["a", "b"]
    assert n.split_pointer("/a~1b/~0c/~01") == ["a/b", "~c", "~1"]
    assert n.sort_key({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'
    assert n.sort_key("x") == '"x"'


@params(("key", "system"), [
    ("fabric.githedgehog.com/vpc", True), ("vpc.fabric.githedgehog.com/v", True),
    ("kubectl.kubernetes.io/last-applied-configuration", True), ("hnp.githedgehog.com/id", True),
    ("fabric.githedgehog.com/p2p-link", False), ("fabric.githedgehog.com/route-summ", False),
    ("team", False), ("githedgehog.com/x", False), ("fabric.githedgehog.com", False),
])
def test_is_system_key(key: str, system: bool) -> None:
    assert n.is_system_key(key) is system


@params(("value", "zero"), [
    (None, True), (False, True), ("", True), ({}, True), ([], True), (0, True), (0.0, True),
    (True, False), ("x", False), ({"a": None}, False), ([None], False), (1, False), (0.5, False), ("0", False),
])
def test_is_zero(value: Any, zero: bool) -> None:
    assert n._is_zero(value) is zero


def test_ignore_rules_match_kind_and_group() -> None:
    assert n.IgnoreRule("VPC", "/spec/x").matches("g", "VPC")
    assert not n.IgnoreRule("VPC", "/spec/x").matches("g", "Switch")
    assert n.IgnoreRule("*", "/spec/x").matches("g", "Switch")
    assert n.IgnoreRule("VPC", "/spec/x", group="g").matches("g", "VPC")
    assert not n.IgnoreRule("VPC", "/spec/x", group="g").matches("h", "VPC")
    rules = n.NormalizeRules(ignore=(n.IgnoreRule("VPC", "/a"), n.IgnoreRule("*", "/b"), n.IgnoreRule("Switch", "/c")))
    assert rules.pointers_for("vpc.githedgehog.com", "VPC") == ["/a", "/b"]


def test_canonical_prunes_zero_values_and_numbers_by_value() -> None:
    value = {"a": None, "b": False, "c": "", "d": 0, "e": 0.0, "f": {}, "g": [], "h": {"i": None}, "j": 2.0,
             "k": 2.5, "l": [0, None, 1.0, {"m": 0}], "n": True, 3: "x"}
    assert n._canonical(value) == {"j": 2, "k": 2.5, "l": [0, None, 1, {}], "n": True, "3": "x"}
    assert n._canonical(4.0) == 4 and type(n._canonical(4.0)) is int
    assert n._canonical(4.5) == 4.5 and n._canonical("s") == "s"

    class D(dict):
        pass

    assert n._canonical(D(a=1, b=0)) == {"a": 1}


def test_normalize_drops_bookkeeping_and_keeps_what_operators_write() -> None:
    obj = {
        "apiVersion": VPC_API, "kind": "IPv4Namespace", "status": {"x": 1},
        "metadata": {"name": "ns", "uid": "u", "resourceVersion": "1", "generation": 2, "creationTimestamp": "t",
                     "managedFields": [1], "selfLink": "s", "deletionGracePeriodSeconds": 3, "deletionTimestamp": "d",
                     "ownerReferences": [1], "finalizers": ["f"],
                     "labels": {"fabric.githedgehog.com/p2p-link": "y", "fabric.githedgehog.com/x": "1",
                                "tier": "", "hnp.githedgehog.com/a": "b"},
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "note": "n"}},
        "spec": {"subnets": ["10.2.0.0/16", "10.1.0.0/16"], "zero": 0, "empty": {}},
    }
    assert n.normalize(obj) == {
        "apiVersion": VPC_API, "kind": "IPv4Namespace",
        # IPv4Namespace.Default() runs CleanupFabricLabels, which takes p2p-link too; `tier: ""` is a label
        "metadata": {"name": "ns", "namespace": "default", "labels": {"tier": ""}, "annotations": {"note": "n"}},
        "spec": {"subnets": ["10.1.0.0/16", "10.2.0.0/16"]},
    }


def test_normalize_keeps_explicit_zeros_keyed_maps_and_present_pointers() -> None:
    vpc = {"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "v", "namespace": "n"},
           "spec": {"ipv4Namespace": "a", "vlanNamespace": "b",
                    "subnets": {"s": {"subnet": "10.0.0.0/24", "gateway": "10.0.0.9", "isolated": False, "vlan": 0},
                                "e": {}}}}
    assert n.normalize(vpc)["spec"] == {
        "ipv4Namespace": "a", "vlanNamespace": "b",
        "subnets": {"s": {"subnet": "10.0.0.0/24", "gateway": "10.0.0.9", "isolated": False}, "e": {}}}
    ext = {"apiVersion": VPC_API, "kind": "External", "metadata": {"name": "e"},
           "spec": {"ipv4Namespace": "a", "static": {}, "other": {}}}
    assert n.normalize(ext)["spec"] == {"ipv4Namespace": "a", "static": {}}
    attach = {"apiVersion": VPC_API, "kind": "ExternalAttachment", "metadata": {"name": "a"},
              "spec": {"inboundACL": {}, "static": {"proxy": True}}}
    assert n.normalize(attach)["spec"] == {"inboundACL": {}, "static": {"proxy": True}}
    attach["spec"]["static"]["proxy"] = 1
    assert n.normalize(attach)["spec"] == {"static": {"proxy": 1}}
    assert n.normalize(attach, also_present=frozenset({"/spec/inboundACL"}))["spec"] == {
        "inboundACL": {}, "static": {"proxy": 1}}
    assert n.presence_pointers(attach) == frozenset({"/spec/static"})
    attach["spec"]["static"]["proxy"] = True
    assert n.presence_pointers(attach) == frozenset({"/spec/static", "/spec/inboundACL"})
    assert n.presence_pointers({"apiVersion": VPC_API, "kind": "VPC"}) == frozenset()


def test_operator_keys_stay_where_default_keeps_labels() -> None:
    gw = {"apiVersion": "gateway.githedgehog.com/v1alpha1", "kind": "GatewayGroup",
          "metadata": {"name": "g", "labels": {"fabric.githedgehog.com/route-summ": "y", "fabric.githedgehog.com/x": "1"}}}
    assert n.normalize(gw)["metadata"] == {"name": "g", "namespace": "default",
                                           "labels": {"fabric.githedgehog.com/route-summ": "y"}}


def test_normalize_ignores_what_the_rules_say() -> None:
    rules = n.NormalizeRules(ignore=(n.IgnoreRule("IPv4Namespace", "/spec/subnets/1"),
                                     n.IgnoreRule("*", "/metadata/annotations/note")))
    obj = {"apiVersion": VPC_API, "kind": "IPv4Namespace", "metadata": {"name": "ns", "annotations": {"note": "n"}},
           "spec": {"subnets": ["a", "b", "c"]}}
    assert n.normalize(obj, rules) == {"apiVersion": VPC_API, "kind": "IPv4Namespace",
                                       "metadata": {"name": "ns", "namespace": "default"},
                                       "spec": {"subnets": ["a", "c"]}}


def test_value_at() -> None:
    obj = {"a": [{"b": 1}, 2], "c": None}
    assert n._value_at(obj, ["a", "0", "b"]) == 1
    assert n._value_at(obj, ["a", "1"]) == 2
    assert n._value_at(obj, ["a", "2"]) is None
    assert n._value_at(obj, ["a", "x"]) is None
    assert n._value_at(obj, ["c", "d"]) is None
    assert n._value_at(obj, []) is obj
    assert n._holds(True, True) and not n._holds(1, True) and not n._holds(False, True)


def test_positions_of_set_elements_as_written() -> None:
    obj = {"apiVersion": VPC_API, "kind": "IPv4Namespace", "metadata": {"name": "ns"},
           "spec": {"subnets": ["c", "a", "b"]}}
    out, positions = n.normalize_with_positions(obj)
    assert out["spec"]["subnets"] == ["a", "b", "c"]
    assert positions[id(out["spec"]["subnets"])] == [1, 2, 0]
    gw = {"apiVersion": "gateway.githedgehog.com/v1alpha1", "kind": "Gateway", "metadata": {"name": "g"},
          "spec": {"workers": 1, "logs": {"default": "x", "tags": {"a": "b"}},
                   "groups": [{"name": "z"}, {"name": "b"}], "neighbors": [{"ip": "2"}, {"ip": "1"}]}}
    out, positions = n.normalize_with_positions(gw)
    assert out["spec"]["groups"] == [{"name": "b"}, {"name": "z"}]
    assert positions[id(out["spec"]["groups"])] == [1, 0]
    assert out["spec"]["neighbors"] == [{"ip": "1"}, {"ip": "2"}]
    assert positions[id(out["spec"]["neighbors"])] == [1, 0]


# --- survivors of the mutation run (issue 19): error positions, contexts, a second definition mid-file ----

from hedgehog_sync.domain.parsing import _line_of, _yaml_error_text  # noqa: E402


@pytest.mark.parametrize("data,message", [
    # the stream ends inside a quoted scalar on the last line, with no newline after it: the mark is on that
    # line (not past it) but at the end of the text, which is still the end of the file
    (b"a: 'x", "YAML syntax error at line 1, column 6 (the end of the file): found unexpected end of stream "
               "(while scanning a quoted scalar at line 1, column 4)"),
    # a byte order mark (Windows editors write one) is not counted in the mark's index: the mark past the
    # last line is still the end of the file, not a line 3 the editor does not show
    ("\ufeffa: 1\nb: [1, 2\n".encode(), "YAML syntax error at line 2, column 9 (the end of the file): did not "
                                       "find expected ',' or ']' (while parsing a flow sequence at line 2, column 4)"),
    # ... and it counts no column either, as an editor does not, when the end of the file is on its first line
    ("\ufeffa: [1, 2\n".encode(), "YAML syntax error at line 1, column 9 (the end of the file): did not "
                                 "find expected ',' or ']' (while parsing a flow sequence at line 1, column 4)"),
    # ... nor for a U+FEFF left on the last line (PyYAML counts none, wherever it is)
    ("a: 1\nb: [1, 2\ufeff\n".encode(), "YAML syntax error at line 2, column 9 (the end of the file): did not "
                                       "find expected ',' or ']' (while parsing a flow sequence at line 2, column 4)"),
], ids=["quoted-at-end-no-newline", "bom-flow-at-end", "bom-flow-at-end-first-line", "feff-on-the-last-line"])
def test_an_error_at_the_end_of_the_file_says_so(data: bytes, message: str) -> None:
    """An operator looks for the line the error names; at the end of a file it says "the end of the file"
    whether or not the file ends in a newline, and with a byte order mark too."""
    assert parse_file("e.yaml", data).findings == [Finding("e.yaml", message)]


def test_the_end_of_an_empty_text_is_line_1_column_1() -> None:
    """The position helper on an empty text (no lines at all) names line 1, column 1, not a made-up line."""
    assert _line_of(yaml.error.Mark("e.yaml", 0, 0, 0, None, None), "") == "line 1, column 1 (the end of the file)"


def test_errors_without_a_context_mark_are_still_described() -> None:
    """PyYAML's pure-Python scanner (used when libyaml is missing) raises "while scanning for the next token"
    with no context mark, and a YAMLError of another layer may carry a problem mark but no context at all:
    both become the finding, never an AttributeError that would lose the file's error."""
    text = "a: 1\nb: @x\n"
    mark = yaml.error.Mark("e.yaml", 8, 1, 3, None, None)
    pure = yaml.scanner.ScannerError("while scanning for the next token", None,
                                     "found character '@' that cannot start any token", mark)
    assert _yaml_error_text(pure, text) == (
        "YAML syntax error at line 2, column 4: found character '@' that cannot start any token")

    class MarkedOnly(yaml.YAMLError):
        def __init__(self, problem: str, problem_mark: Any) -> None:
            super().__init__(problem)
            self.problem, self.problem_mark = problem, problem_mark

    assert _yaml_error_text(MarkedOnly("bad value", mark), text) == "YAML syntax error at line 2, column 4: bad value"


def test_a_second_definition_mid_file_does_not_hide_what_follows() -> None:
    """A duplicate is refused on its own: the documents after it in the same file are still read (a VPC
    defined twice must not make the next VPC look deleted)."""
    merged = parse_files([("a.yaml", (VPC_DOC % 1).encode()),
                          ("b.yaml", (VPC_DOC % 1 + "---\n" + VPC_DOC % 2 + "---\n" + VPC_DOC % 3).encode())])
    assert [o["metadata"]["name"] for o in merged.objects] == ["v1", "v2", "v3"]
    assert merged.sources == [("a.yaml", 1), ("b.yaml", 2), ("b.yaml", 3)]
    assert merged.findings == [
        Finding("b.yaml", "VPC v1 is defined twice: here and in a.yaml (document 1); keep one of them", document=1)]
