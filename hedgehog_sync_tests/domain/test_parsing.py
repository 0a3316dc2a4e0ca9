import pytest

from hedgehog_sync.domain.parsing import ParseLimits, is_candidate_file, parse_file, parse_files

VPC = b"""apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata:
  name: vpc-1
spec:
  subnets:
    default:
      subnet: 10.0.1.0/24
      vlan: 1001
"""


def test_multi_document_file_with_junk_gives_objects_and_one_finding_each():
    data = VPC + b"""---
# only a comment
---
apiVersion: v1
kind: ConfigMap
metadata: {name: x}
---
just: a mapping without kind
---
- a
- list
---
apiVersion: wiring.githedgehog.com/v1alpha2
kind: Switch
metadata: {name: leaf-01}
"""
    parsed = parse_file("fab/vpcs.yaml", data)
    assert [o["metadata"]["name"] for o in parsed.objects] == ["vpc-1"]
    messages = [(f.document, f.level, f.message) for f in parsed.findings]
    assert messages[0][:2] == (3, "warning") and "not a Hedgehog resource" in messages[0][2]
    assert messages[1][:2] == (4, "warning") and "no apiVersion or kind" in messages[1][2]
    assert messages[2][:2] == (5, "warning") and "not a mapping" in messages[2][2]
    assert messages[3][:2] == (6, "error") and "upgrade it to wiring.githedgehog.com/v1beta1" in messages[3][2]


def test_syntax_error_names_line_and_column():
    parsed = parse_file("broken.yaml", b"kind: VPC\nmetadata: {name: [\n")
    assert parsed.objects == []
    (finding,) = parsed.findings
    assert finding.source == "broken.yaml" and finding.level == "error"
    assert "line" in finding.message and "column" in finding.message


def test_alias_bomb_is_refused_without_expanding():
    bomb = b'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for i in range(1, 12):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        bomb += f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]\n".encode()
    parsed = parse_file("bomb.yaml", bomb)
    assert parsed.objects == []
    assert "alias bomb" in parsed.findings[0].message


def test_recursive_alias_is_refused():
    parsed = parse_file("loop.yaml", b"a: &a [*a, 1]\n")
    assert parsed.objects == [] and "alias" in parsed.findings[0].message


def test_ordinary_aliases_are_fine():
    data = b"""apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata: {name: v}
spec:
  subnets:
    a: &s {subnet: 10.0.1.0/24, vlan: 1001}
    b: *s
"""
    (obj,) = parse_file("ok.yaml", data).objects
    assert obj["spec"]["subnets"]["b"]["vlan"] == 1001


def test_limits_on_size_documents_depth_and_binary():
    limits = ParseLimits(max_file_bytes=100, max_documents_per_file=3, max_depth=5)
    assert "over the limit" in parse_file("big.yaml", b"a: 1\n" * 50, limits).findings[0].message
    assert "more than 3" in parse_file("many.yaml", b"---\na: 1\n" * 4, limits).findings[0].message
    deep = b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {name: v}\nspec: " + b"{a: " * 8 + b"1" + b"}" * 8
    assert "nested deeper" in parse_file("deep.yaml", deep, ParseLimits(max_depth=5)).findings[0].message
    very_deep = b"a: " + b"[" * 50_000 + b"]" * 50_000
    assert "nested deeper" in parse_file("very-deep.yaml", very_deep).findings[0].message
    block_deep = b"".join(b"  " * i + b"k:\n" for i in range(2000)) + b"  " * 2000 + b"v\n"
    assert "nested deeper" in parse_file("block-deep.yaml", block_deep).findings[0].message
    quoted = b'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: "' + b"[" * 100 + b'"}\n'
    assert "nested" not in parse_file("quoted.yaml", quoted).findings[0].message
    assert "binary" in parse_file("bin.yaml", b"\x00\x01\x02").findings[0].message
    assert "not UTF-8" in parse_file("latin.yaml", b"name: caf\xe9\n").findings[0].message


# Nesting that once reached libyaml's recursive composer and crashed the process (SIGSEGV): block
# sequences written compactly on one line, and flow brackets whose count quoted `]` kept low.
CRASHERS = {
    "compact block sequences": "- " * 100_000 + "x\n",
    "compact explicit keys": "? " * 100_000 + "x\n",
    "brackets hidden by quoted closers": "a: " + '[ "]", ' * 100_000 + "x" + "]" * 100_000 + "\n",
    "flow maps hidden by quoted closers": "a: " + "{k: '}]', v: " * 100_000 + "x" + "}" * 100_000 + "\n",
    # YAML breaks lines at CR, NEL and LS too: the nesting after them is on a line of its own.
    **{f"compact sequences after a {name}": "x: 1" + brk + "y:" + brk + "- " * 100_000 + "z\n"
       for name, brk in (("CR", "\r"), ("NEL", "\u0085"), ("LS", "\u2028"))},
}


def test_nesting_bombs_are_findings_not_crashes():
    import json
    import subprocess
    import sys

    # A child process: should the guard fail again, the crash fails this test instead of ending pytest.
    script = (
        "import json, sys\n"
        "from hedgehog_sync.domain.parsing import parse_file\n"
        "cases = json.loads(sys.stdin.read())\n"
        "print(json.dumps({k: [f.message for f in parse_file(k, v.encode()).findings] for k, v in cases.items()}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(CRASHERS), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"parser crashed (exit {done.returncode}): {done.stderr[-500:]}"
    for case, messages in json.loads(done.stdout).items():
        assert messages == ["file is nested deeper than 64 levels"], case


@pytest.mark.parametrize("path,counted", [
    ("vpcs.yaml", True), ("a/b/c.yml", True), ("managed/vpcs/vpc-1.yaml", True),
    ("raw/extra.yaml", True), ("unmanaged/vpcs/vpc-9.yaml", False), (".hnp/state.yaml", False),
    (".github/workflows/ci.yaml", False), ("README.md", False), ("notes.txt", False),
])
def test_netbox_plugin_layout(path, counted):
    assert is_candidate_file(path) is counted


def test_duplicate_identity_across_files_names_both_files():
    parsed = parse_files([("b.yaml", VPC), ("a.yaml", VPC)])
    assert len(parsed.objects) == 1
    assert parsed.sources == [("a.yaml", 1)]
    (finding,) = parsed.findings
    assert finding.source == "b.yaml" and "a.yaml" in finding.message and "twice" in finding.message


def test_unknown_fields_are_kept():
    data = VPC + b"  hostBGPMinPrefixLen: 24\n"
    (obj,) = parse_file("v.yaml", data).objects
    assert obj["spec"]["hostBGPMinPrefixLen"] == 24


@pytest.mark.parametrize(("text", "message"), [
    (b"a: !!int abc\n", "YAML value error at line 1, column 4: cannot decode !!str `abc` as a !!int"),
    (b"a: !!int\n", "YAML value error at line 1, column 4: cannot decode !!null `` as a !!int"),
    (b"a: !!bool maybe\n", "YAML value error at line 1, column 4: cannot decode !!str `maybe` as a !!bool"),
    (b"a: !!timestamp nope\n", "YAML value error at line 1, column 4: cannot decode !!str `nope` as a !!timestamp"),
    (b"b: &x {k: 1}\nc:\n  <<: *x\n  d: !!int zz\n", "YAML value error at line 4, column 6: cannot decode"),
    (b"a: !!binary '!!!'\n", "YAML value error at line 1, column 4: !!binary value contains invalid base64"),
    (b"a: .nan\n", "YAML value error at line 1, column 4: value .nan is not a number JSON can hold"),
    (b"? [a]\n: 1\n", "YAML value error at line 1, column 3: a mapping key is a collection"),
    (b"~: 1\n", "YAML value error at line 1, column 1: a mapping key is null"),
])
def test_values_kubectl_refuses_are_findings_not_exceptions(text, message):
    # These once escaped parse_file as ValueError, KeyError or AttributeError and failed the whole fabric.
    (finding,) = parse_file("values.yaml", text).findings
    assert message in finding.message and finding.level == "error" and finding.document == 1


def test_a_value_error_refuses_its_document_only():
    data = b"a: !!int x\n---\n" + VPC
    parsed = parse_file("two.yaml", data)
    assert [o["metadata"]["name"] for o in parsed.objects] == ["vpc-1"] and parsed.documents == [2]
    assert [(f.document, f.level) for f in parsed.findings] == [(1, "error")]


def test_duplicate_key_is_an_error_naming_key_and_lines():
    data = VPC.replace(b"  name: vpc-1\n", b"  name: vpc-1\n  name: vpc-2\n")
    parsed = parse_file("dup.yaml", data)
    assert parsed.objects == []
    (finding,) = parsed.findings
    assert finding.level == "error" and finding.document == 1
    assert finding.message == ("YAML value error at line 5, column 3: mapping key 'name' is given twice "
                               "(first at line 4); kubectl refuses the file: keep one")


def test_unquoted_date_in_an_annotation_is_the_string_kubectl_sends():
    data = VPC.replace(b"  name: vpc-1\n", b"  name: vpc-1\n  annotations: {reviewed: 2024-01-01, at: 2024-01-01T10:00:00Z}\n")
    (obj,) = parse_file("v.yaml", data).objects
    assert obj["metadata"]["annotations"] == {"reviewed": "2024-01-01", "at": "2024-01-01T10:00:00Z"}


# A YAML error's line as an editor shows it: 1-based, and at the end of a file its last line.
SIX_LINES = (b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {name: vpc-x}\nspec:\n  subnets:\n"
             b"    a: {vlan: [1001\n")


@pytest.mark.parametrize(("text", "where"), [
    (SIX_LINES, "line 6, column 20 (the end of the file)"),
    (SIX_LINES.rstrip(b"\n"), "line 6, column 20 (the end of the file)"),
    (b"a: 1\nb: [\n", "line 2, column 5 (the end of the file)"),
    (b"a: 1\nb: 2\n c: 3\nd: 4\n", "line 3, column 3"),
    (b"a: 1\n\tb: 2\n", "line 2, column 1"),
])
def test_yaml_error_line_is_the_editors_line(text, where):
    (finding,) = parse_file("e.yaml", text).findings
    assert finding.message.startswith(f"YAML syntax error at {where}: "), finding.message
    lines = text.decode().splitlines()
    assert int(where.split()[1].rstrip(",")) <= len(lines)


@pytest.mark.parametrize(("name", "flagged"), [
    ("vpc-1", False), ("leaf-01.fab", False), ("a" * 253, False), ("Leaf-01", True), ("vpc_1", True),
    ("-vpc", True), ("vpc-", True), ("a" * 254, True), ("vpc\r1", True), ("\x1b[31mred", True), ("a..b", True),
])
def test_names_that_are_not_dns_1123_subdomains_are_flagged(name, flagged):
    import json

    data = VPC.replace(b"name: vpc-1", b"name: " + json.dumps(name).encode())
    parsed = parse_file("n.yaml", data)
    assert len(parsed.objects) == 1  # still compared: the cluster cannot hold it, so it shows as missing
    warnings = [f for f in parsed.findings if "DNS-1123" in f.message]
    assert bool(warnings) is flagged
    if flagged:
        assert warnings[0].level == "warning" and warnings[0].document == 1 and warnings[0].source == "n.yaml"


def test_an_8_mb_node_flood_stops_at_its_budget_with_bounded_memory():
    """Issue 12: one crafted 8 MB file took 13 s and 0.9 GB while PyYAML composed its node graph. The
    budget now holds per event: the file is refused once it passes max_expanded_nodes."""
    import json
    import subprocess
    import sys

    # VmHWM of the child's own memory: ru_maxrss would carry over the high-water mark of the pytest
    # process it was spawned from (Linux keeps it across exec), which is not what this file costs.
    script = (
        "import json, re\n"
        "from hedgehog_sync.domain.parsing import parse_file\n"
        "n = 8 * 1024 * 1024 - 64\n"
        "cases = {'flow': b'a: [' + b'a,' * (n // 2 - 8) + b'a]\\n',\n"
        "         'aliases': b'x: &x [1, 2, 3]\\ny: [' + b'*x,' * (n // 3 - 8) + b'*x]\\n'}\n"
        "out = {k: [f.message for f in parse_file(k, v).findings] for k, v in cases.items()}\n"
        "hwm = re.search(r'^VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read(), re.M)\n"
        "out['maxrss_mb'] = int(hwm.group(1)) / 1024\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]
    out = json.loads(done.stdout)
    assert out["flow"] == ["file has more than 1000000 YAML nodes; refusing it (split the file, or raise the "
                           "limit if it is genuine)"]
    assert out["aliases"][0].startswith("file has more than 1000000 YAML nodes once aliases are expanded")
    assert out["maxrss_mb"] < 512, out["maxrss_mb"]
