"""Hostile YAML: whatever a Git repository holds, parse_file returns findings (never raises, never
exceeds its budgets), and what comes out of it goes through the report, its strict JSON, the markdown
and the terminal table without an exception and with nothing left to render or to act on."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timezone

import yaml
from hypothesis import given, strategies as st

from hedgehog_sync.domain.model import DesiredState, LiveState
from hedgehog_sync.domain.parsing import ParsedFile, ParseLimits, parse_file
from hedgehog_sync.domain.render import SourceLinks, report_markdown, report_table
from hedgehog_sync.domain.report import build_report, report_json
from hedgehog_sync_tests.fuzz.conftest import fuzz_settings

LIMITS = ParseLimits(max_file_bytes=2 * 1024 * 1024, max_documents_per_file=50, max_depth=24,
                     max_expanded_nodes=20_000, max_scalar_chars=50_000)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
# What a terminal acts on, or a renderer hides: never in the table or the markdown.
RAW_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b]")

_odd_text = st.lists(st.sampled_from(list("ab-.:/|`*_[]()!<>#&@~\\ \"'{},?%=") +
                                    ["\r", "\x1b", "\x07", "\u202e", "\u200b", "\x85", "\u2028", "é",
                                     "\n", "\t", "http://x.example", "www.", "<img src=x>", "]("]),
                     max_size=12).map("".join)
_scalars = st.one_of(
    st.sampled_from(["2024-01-01", "2001-12-14t21:59:43.10-05:00", "yes", "no", "y", "n", "on", "off", "~",
                     "null", "1:20", "0777", "0o17", "0x1F", "0b101", "1_000", ".inf", "-.inf", ".nan", "=", "<<",
                     "1e3", "08", "18446744073709551616", "0x10000000000000000", "9" * 30, "", "-", "?", "!",
                     "!!binary aGVsbG8=", "!!binary '!!'", "!!set {a, b}", "!!omap [{a: 1}]", "!!int x",
                     "!!float 1", "!!timestamp 2026-11-28", "!custom 1", "!!python/object:os.system x",
                     "*nowhere", "&a 1", "'quoted'", '"\\e[31mred\\r"', "|\n  block", ">-\n  folded"]),
    _odd_text.map(json.dumps),  # any text, as a double-quoted scalar
    st.integers().map(str), st.floats().map(repr))
_keys = st.one_of(st.sampled_from(["name", "metadata", "spec", "kind", "apiVersion", "a", "a", "<<", "y", "1",
                                   "1.0", "true", "~", "[1]", "{a: 1}", "? x"]), _odd_text.map(json.dumps))


@st.composite
def _yaml_value(draw, depth: int = 0) -> str:
    """A YAML value as flow text: scalars, collections, anchors and aliases, tags, duplicate keys."""
    choice = draw(st.integers(0, 9 if depth < 6 else 3))
    if choice <= 3:
        return draw(_scalars)
    if choice <= 5:
        items = draw(st.lists(_yaml_value(depth + 1), max_size=4))
        return draw(st.sampled_from(["", "&s ", "!!seq ", "!!set ", "!x "])) + "[" + ", ".join(items) + "]"
    if choice <= 7:
        pairs = draw(st.lists(st.tuples(_keys, _yaml_value(depth + 1)), max_size=4))
        return draw(st.sampled_from(["", "&m ", "!!map ", "!!omap "])) + \
            "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    if choice == 8:
        return draw(st.sampled_from(["*s", "*m", "*a"]))
    return "[" * draw(st.integers(20, 200)) + "]" * draw(st.integers(0, 200))


_KINDS = ["VPC", "Switch", "Connection", "ConfigMap", "Agent"]
_GROUPS = {"VPC": "vpc.githedgehog.com/v1beta1", "Switch": "wiring.githedgehog.com/v1beta1",
           "Connection": "wiring.githedgehog.com/v1beta1", "ConfigMap": "v1", "Agent": "agent.githedgehog.com/v1beta1"}


@st.composite
def _documents(draw) -> bytes:
    """Mostly Kubernetes-shaped documents (so objects come out and reach the report), with hostile
    names, values, anchors, tags and duplicate keys; sometimes raw hostile text or bytes."""
    docs = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(_KINDS))
        name = draw(st.one_of(st.sampled_from(["vpc-1", "leaf-01", "Evil_Name", "a" * 300]),
                              _odd_text.map(json.dumps)))
        meta_extra = draw(st.sampled_from(["", ", name: again", ", annotations: {reviewed: 2024-01-01}",
                                           ", labels: &l {a: b}, annotations: *l", ", namespace: [x]"]))
        spec = draw(_yaml_value())
        docs.append(f"apiVersion: {_GROUPS[kind]}\nkind: {kind}\nmetadata: {{name: {name}{meta_extra}}}\n"
                    f"spec: {spec}\n")
    text = "---\n".join(docs)
    mode = draw(st.integers(0, 9))
    data = text.encode()
    if mode == 0:  # a huge scalar, past the scalar budget
        data += b"big: " + b"x" * draw(st.integers(LIMITS.max_scalar_chars - 10, LIMITS.max_scalar_chars + 10)) + b"\n"
    elif mode == 1:  # invalid UTF-8 or a NUL
        data += draw(st.sampled_from([b"\xff\xfe", b"caf\xe9", b"\x00", b"\xed\xa0\x80"]))
    elif mode == 2:  # a node flood or an alias bomb
        data += b"---\nflood: &f [" + b"x," * 2000 + b"x]\nbomb: [" + b"*f," * 20 + b"*f]\n"
    elif mode == 3:  # deep block nesting
        data += b"---\n" + b"".join(b"  " * i + b"k:\n" for i in range(40)) + b"  " * 40 + b"v\n"
    elif mode == 4:  # raw bytes
        data = draw(st.binary(max_size=200))
    return data


def _live_from(objects: list, data) -> list:
    """The cluster's side: copies of what Git holds, some changed in hostile ways, plus odd items."""
    live = []
    for obj in objects:
        if data.draw(st.booleans()):
            continue  # missing
        copied = copy.deepcopy(obj)
        mutation = data.draw(st.integers(0, 6))
        if mutation == 0:
            copied["spec"] = float("nan")
        elif mutation == 1:
            copied.setdefault("metadata", {})["annotations"] = {"note": "x" * 20_000, "\x1b[31m": "\r"}
        elif mutation == 2:
            copied["spec"] = [copied.get("spec"), {"k": float("inf")}]
        elif mutation == 3:
            copied["metadata"] = "just a string"
        live.append(copied)
    live += data.draw(st.lists(st.sampled_from([
        "a string", ["a", "list"], {"kind": "VPC"}, {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC",
                                                     "metadata": {"name": "x\x1b]8;;http://evil\x07y"}}]),
        max_size=2))
    return live


def _assert_inert(report: dict) -> None:
    text = report_json(report)
    json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(AssertionError(f"bare {c}")))
    markdown = report_markdown(report, links=SourceLinks(git_url="https://github.com/o/r.git", kube_context="c"))
    table = report_table(report)
    assert not RAW_CONTROLS.search(markdown), repr(markdown[:500])
    assert not RAW_CONTROLS.search(table), repr(table[:500])
    try:
        import markdown_it
    except ImportError:  # pragma: no cover - markdown-it comes with Dagster's dependencies
        return
    tokens = markdown_it.MarkdownIt("commonmark").enable(["table"]).parse(markdown)
    inline = [c for t in tokens if t.children for c in t.children]
    for t in tokens + inline:
        assert t.type not in ("image", "html_block"), markdown
        assert t.type != "html_inline" or t.content == "<br>", markdown
        if t.type == "link_open":  # only the report's own links to files at the commit
            assert t.attrGet("href").startswith("https://github.com/o/r/blob/"), markdown


@fuzz_settings
@given(data=st.data(), raw=_documents())
def test_hostile_yaml_gives_findings_and_an_inert_report(data, raw: bytes) -> None:
    parsed = parse_file("fab/hostile.yaml", raw, LIMITS)
    assert isinstance(parsed, ParsedFile)
    assert len(parsed.objects) == len(parsed.documents) <= LIMITS.max_documents_per_file
    for obj in parsed.objects:
        json.dumps(obj, allow_nan=False)  # plain JSON data: kubectl's conversion refuses the rest
    for finding in parsed.findings:
        assert finding.level in ("error", "warning") and finding.message
    desired = DesiredState(commit="c" * 40, ref="main", objects=parsed.objects,
                           sources=[("hostile.yaml", d) for d in parsed.documents], findings=parsed.findings)
    live = LiveState(server="https://fab.example:6443", objects=_live_from(parsed.objects, data))
    report = build_report("fab-x", desired, live, now=NOW, ref="main", git_url="https://u:p@github.com/o/r.git")
    assert len(report_json(report)) < 2 * 1024 * 1024
    _assert_inert(report)


@fuzz_settings
@given(value=st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _odd_text,
                                    st.dates(), st.binary(max_size=8)),
                          lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                  st.dictionaries(st.one_of(_odd_text, st.integers()), inner,
                                                                  max_size=3)),
                          max_leaves=15),
       style=st.sampled_from([None, False, True]))
def test_whatever_pyyaml_can_dump_parses_to_json_data(value, style) -> None:
    text = yaml.dump({"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": {"name": "v"},
                      "spec": {"x": value, "y": value}}, default_flow_style=style).encode()
    parsed = parse_file("dumped.yaml", text, LIMITS)
    for obj in parsed.objects:
        json.dumps(obj, allow_nan=False)
