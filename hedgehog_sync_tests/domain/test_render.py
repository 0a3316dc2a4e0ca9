"""The report as text: what a person reads first, links to both sides, and nothing from Git that renders."""

import re

import pytest

from hedgehog_sync.domain.render import (
    SourceLinks, desired_location, fleet_markdown, git_file_url, report_markdown,
)

COMMIT = "9f1c" + "0" * 36


def report(status="drifted", resources=(), errors=(), message="fab-x: move VLANs", **extra):
    return {"fabric": "fab-x", "status": status, "generated_at": "2026-11-28T12:00:00Z",
            "git": {"commit": COMMIT, "ref": "main", "resources": 10, "message": message, "author": "Ada"},
            "cluster": {"resources": 12, "server": "https://fab-x:6443"},
            "summary": {"in_sync": 8, "modified": 1, "missing": 1, "extra": 1}, "score": 0.4,
            "severity": "critical", "drift_since": "2026-11-28T11:00:00Z", "resources": list(resources),
            "errors": list(errors), "warnings": [], **extra}


MODIFIED = {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "namespace": "default", "name": "vpc-1",
            "state": "modified", "severity": "high", "source": "vpcs/vpc-1.yaml#1",
            "changes": [{"op": "replace", "path": "/spec/subnets/default/vlan", "desired": 1001, "actual": 1002}]}
EXTRA = {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "namespace": "default", "name": "rogue",
         "state": "extra", "severity": "critical", "changes": []}
MISSING = {"apiVersion": "wiring.githedgehog.com/v1beta1", "kind": "Switch", "namespace": "default",
           "name": "leaf-9", "state": "missing", "severity": "critical", "source": "wiring/switches.yaml#3",
           "changes": []}


@pytest.mark.parametrize("url, path, expected", [
    ("https://github.com/netops/fabrics.git", "fab/vpcs/a.yaml",
     f"https://github.com/netops/fabrics/blob/{COMMIT}/fab/vpcs/a.yaml"),
    ("https://gitlab.example.com/netops/fabrics", "vpcs/a b.yaml",
     f"https://gitlab.example.com/netops/fabrics/-/blob/{COMMIT}/vpcs/a%20b.yaml"),
    ("https://git.example.com/netops/fabrics.git", "vpcs/a.yaml", None),  # unknown host: no guessed link
    ("git@github.com:netops/fabrics.git", "vpcs/a.yaml", None),
    ("file:///srv/git/fab", "vpcs/a.yaml", None),
    (None, "vpcs/a.yaml", None),
])
def test_git_file_links_only_where_the_host_is_known(url, path, expected):
    assert git_file_url(url, COMMIT, path) == expected


def test_each_resource_points_at_its_file_in_git():
    links = SourceLinks(git_url="https://github.com/netops/fabrics.git", git_path="fabrics/fab-x")
    assert desired_location(MODIFIED, COMMIT, links) == (
        f"[`vpcs/vpc-1.yaml#1`](https://github.com/netops/fabrics/blob/{COMMIT}/fabrics/fab-x/vpcs/vpc-1.yaml)")
    assert desired_location(MODIFIED, COMMIT, None) == "`vpcs/vpc-1.yaml#1`"
    assert desired_location(EXTRA, COMMIT, links) == "—"  # only the cluster has it


def test_the_headline_says_the_status_and_the_worst_drift_comes_first():
    md = report_markdown(report(resources=[MODIFIED, EXTRA, MISSING]),
                         links=SourceLinks(kube_context="fab-x-admin"))
    lines = md.splitlines()
    assert lines[0] == "### ⚠ drifted · fab-x: 3 resources differ from Git"
    assert "severity ****critical****" not in lines[2] and "**critical**" in lines[2]
    assert "drifted since 2026-11-28T11:00:00Z" in lines[2]
    assert md.index("Switch `leaf-9`") < md.index("VPC `rogue`") < md.index("VPC `vpc-1`")
    assert f"Git `{COMMIT[:12]}` on `main`: *fab-x: move VLANs* by Ada" in md
    assert "`kubectl --context fab-x-admin get <kind>/<name>`" in md
    at = lines.index("- **critical** VPC `rogue` (extra)")
    assert lines[at + 1] == "  - in the cluster, not in Git"
    at = lines.index("- high VPC `vpc-1` (modified)")
    assert lines[at + 1:at + 3] == ["  - in Git `vpcs/vpc-1.yaml#1`",
                                    "  - replace `/spec/subnets/default/vlan`: `1001` → `1002`"]


def test_the_report_is_narrow_with_the_repository_and_kubectl_on_their_own_lines():
    """At 1600 px the old four-column table pushed "in Git" and the kubectl hint off the page, and a
    two-column table still cut its last column: what differs is a list now."""
    r = report(resources=[MODIFIED, EXTRA, MISSING])
    r["git"]["url"] = "https://git.example.com/netops/fabrics.git"
    md = report_markdown(r, links=SourceLinks(kube_context="fab-x-admin"))
    lines = md.splitlines()
    assert f"**What differs** (desired → live), worst first, with where Git defines it at `{COMMIT[:12]}`:" in lines
    assert not [x for x in lines if x.startswith("| ") and "rogue" in x]  # no wide table to cut off
    assert "Repository `https://git.example.com/netops/fabrics.git`" in lines
    assert "Look: `kubectl --context fab-x-admin get <kind>/<name>`" in lines
    assert max(len(x) for x in lines if not x.startswith("|")) < 160


def test_an_unknown_report_lists_what_to_fix_before_what_it_found():
    error = {"source": "vpcs/broken.yaml", "level": "error", "message": "YAML syntax error at line 7"}
    md = report_markdown(report(status="unknown", resources=[MODIFIED], errors=[error]))
    assert md.startswith("### ⊘ unknown · fab-x: could not check everything")
    assert md.index("YAML syntax error") < md.index("VPC `vpc-1`")


def test_text_from_git_cannot_inject_markdown():
    md = report_markdown(report(message="fix | <img src=x onerror=alert(1)> [click](http://evil) **now**"))
    line = next(x for x in md.splitlines() if x.startswith("**Desired**"))
    unescaped = re.findall(r"(?<!\\)[<>|\[\]]", line.split(": ", 1)[1])
    assert unescaped == [], line  # no tag, link or table cell can start inside the message
    assert "\\<img" in line and "\\[click\\]" in line


def test_one_drifted_resource_reads_as_one():
    md = report_markdown(report(resources=[MODIFIED], summary={"in_sync": 9, "modified": 1, "missing": 0, "extra": 0}))
    assert md.splitlines()[0] == "### ⚠ drifted · fab-x: 1 resource differs from Git"


def test_in_sync_says_so_in_one_line():
    md = report_markdown(report(status="in_sync", severity="none", drift_since=None,
                                summary={"in_sync": 10, "modified": 0, "missing": 0, "extra": 0}))
    assert md.splitlines()[0] == "### ✔ in sync · fab-x: 10 resources match Git"
    assert "| severity |" not in md  # no drift table


def test_the_fleet_glance_counts_states_and_lists_trouble_first():
    rows = [{"fabric": "fab-a", "status": "in_sync", "severity": "none", "health": 0.98, "priority": "medium"},
            {"fabric": "fab-b", "status": "drifted", "severity": "critical", "health": 0.7, "priority": "high",
             "drift_since": "2026-11-28T11:00:00Z"},
            {"fabric": "fab-c", "status": "unknown", "severity": "none", "health": 0.4, "priority": "low",
             "isolated": True, "fresh": False}]
    md = fleet_markdown(rows)
    assert md.splitlines()[0] == "### Fleet: 3 fabrics · 1 drifted, 1 unknown, 1 in sync"
    assert "isolated: `fab-c`" in md and "report older than 3 cycles: `fab-c`" in md
    body = md[md.index("| fabric |"):]
    assert body.index("fab-c") < body.index("fab-b") < body.index("fab-a")


# --- hostile text: nothing from Git or a cluster renders (issue 12, finding 7 and the low ones) ------------

HOSTILE = ["x](http://evil.example/a)", "![i](http://evil.example/i.png)", "<img src=x onerror=alert(1)>",
           "a|b|c", "`code`", "``x``", "line1\nline2", "\r\x1b[31mred\x1b[0m\x07", "http://evil.example/p",
           "www.evil.example", "a@evil.example", "**bold** _it_", "# head", "&lt;script&gt;", "\u202etxt\u200b",
           "~~s~~", "[ref]: http://evil.example", "<http://evil.example>", "\\|\\`", "\x85\u2028x"]


def _hostile_report(text: str) -> dict:
    resource = {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC" + text, "namespace": "default",
                "name": text, "state": "modified", "severity": "high", "source": f"vpcs/{text}.yaml#1",
                "changes": [{"op": "replace", "path": f"/metadata/annotations/{text}", "desired": text,
                             "actual": {text: [text]}}]}
    extra = dict(resource, state="extra", name=text + "2", changes=[])
    return report(resources=[resource, extra], message=text, author=text,
                  errors=[{"source": text, "level": "error", "message": text, "document": 1}],
                  warnings=[{"source": text, "level": "warning", "message": text}],
                  cluster={"resources": 1, "server": text})


@pytest.mark.parametrize("text", HOSTILE)
def test_names_and_values_from_git_or_a_cluster_render_as_text(text: str) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    r = _hostile_report(text)
    r["git"]["url"] = text
    md = report_markdown(r, links=SourceLinks(kube_context=text))
    parser = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    tokens = parser.parse(md)
    inline = [child for t in tokens if t.children for child in t.children]
    kinds = {t.type for t in tokens} | {t.type for t in inline if not (t.type == "html_inline" and t.content == "<br>")}
    assert not kinds & {"link_open", "image", "html_inline", "html_block", "s_open"}, (text, md)
    assert sum(t.type == "heading_open" for t in tokens) == 1
    # Each table row keeps its cells: a `|` from the text never starts a new one.
    rows, cells = [], 0
    for t in tokens:
        if t.type == "tr_open":
            cells = 0
        elif t.type in ("td_open", "th_open"):
            cells += 1
        elif t.type == "tr_close":
            rows.append(cells)
    assert rows and set(rows) <= {2, 3, 4}, (rows, md)
    # GFM's autolinks (scheme://, www., user@host) start in plain text: none is left unescaped.
    plain = re.sub(r"`+[^`]*`+", "", md)
    assert not re.search(r"(?<!\\):(?=//)|(?<!\\)@|www(?!\\\.)\.", plain), md
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202e\u200b]", md)


@pytest.mark.parametrize("text", HOSTILE)
def test_the_terminal_table_shows_control_characters_as_escapes(text: str) -> None:
    from hedgehog_sync.domain.render import report_table

    table = report_table(_hostile_report(text))
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202e\u200b]", table), repr(table)
    if "\x1b" in text:
        assert "\\x1b[31mred" in table and "\\r" in table


def test_the_terminal_table_has_a_git_location_column_and_drift_since():
    from hedgehog_sync.domain.render import report_table

    table = report_table(report(resources=[MODIFIED, EXTRA]))
    lines = table.splitlines()
    assert lines[0] == "fabric fab-x: drifted (severity critical, score 0.4, drifted since 2026-11-28T11:00:00Z)"
    header = next(x for x in lines if x.startswith("SEVERITY"))
    assert header.split() == ["SEVERITY", "STATE", "KIND", "NAME", "IN", "GIT", "CHANGE"]
    row = next(x for x in lines if "vpc-1" in x)
    assert row.split()[:5] == ["high", "modified", "VPC", "vpc-1", "vpcs/vpc-1.yaml#1"]
    assert next(x for x in lines if "rogue" in x).split()[4] == "—"
