"""domain/render, pinned to the character (issue 19): the drift report, the fleet and the terminal table as a
person reads them, for small fixed reports.

Every expected text is written out here from the report JSON contract (DESIGN.md section 6,
docs/contracts.md) and the docstrings: the headline says the status and how many resources differ, the
counts table, where both sides stand, the worst drift first with its place in Git, then the problems;
text from Git or a cluster is cut to its width and cannot render. Nothing is computed with the module.
"""

import datetime

import pytest

from hedgehog_sync.domain.render import (
    SEVERITY_BADGE, STATUS_BADGE, STATUS_RANK, SourceLinks, change_lines, desired_location, fleet_markdown,
    git_file_url, md_code, md_text, report_markdown, report_table, terminal_change_lines, visible, worst_fabrics_first,
    worst_first,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_the_badges_and_the_status_order():
    assert STATUS_BADGE == {"in_sync": "✔ in sync", "drifted": "⚠ drifted", "unknown": "⊘ unknown",
                            "pending": "… not checked yet"}
    assert SEVERITY_BADGE == {"critical": "**critical**", "high": "high", "medium": "medium", "low": "low",
                              "none": "none"}
    assert STATUS_RANK == {"unknown": 3, "drifted": 2, "pending": 1, "in_sync": 0}


def test_source_links_default_to_nothing():
    links = SourceLinks()
    assert (links.git_url, links.git_path, links.kube_context) == (None, "", None)


# --- visible: what a terminal prints is what the text holds ------------------------------------------------

@pytest.mark.parametrize("text,shown", [
    ("plain text: ok", "plain text: ok"),
    ("a\nb\rc\td", "a\\nb\\rc\\td"),
    ("\x00\x01\x1b[0m\x1f", "\\x00\\x01\\x1b[0m\\x1f"),
    ("\x7f\x80\x85\x9f", "\\x7f\\x80\\x85\\x9f"),
    ("\x20\x7e\xa0\xe9\xac\xae", "\x20\x7e\xa0\xe9\xac\xae"),  # printable neighbours stay
    ("\xad", "\\xad"),  # soft hyphen: below 0x100, so \x
    ("\u061b\u061c\u061d\u180d\u180e\u180f", "\u061b\\u061c\u061d\u180d\\u180e\u180f"),
    ("\u200a\u200b\u200c\u200f\u2010", "\u200a\\u200b\\u200c\\u200f\u2010"),
    ("\u2027\u2028\u2029\u202a\u202e\u202f", "\u2027\\u2028\\u2029\\u202a\\u202e\u202f"),
    ("\u205f\u2060\u2064\u2065\u2066\u206f\u2070", "\u205f\\u2060\\u2064\u2065\\u2066\\u206f\u2070"),
    ("\ufefe\ufeff\uff00\ufff8\ufff9\ufffa\ufffb\ufffc", "\ufefe\\ufeff\uff00\ufff8\\ufff9\\ufffa\\ufffb\ufffc"),
    ("\u0100\u0101", "\u0100\u0101"),
])
def test_visible_shows_every_control_and_invisible_character_as_an_escape(text, shown):
    assert visible(text) == shown


@pytest.mark.parametrize("value,width,shown", [
    (5, None, "5"),
    (None, None, "None"),
    ({"a": 1}, None, "{'a': 1}"),
    ("abcde", 5, "abcde"),
    ("abcdef", 5, "abcd…"),
    ("abcdef", 1, "…"),
    ("x" * 100, 2, "x…"),
    ("x" * 10_000, 40, "x" * 39 + "…"),
    ("\x1b\x1b\x1b", 5, "\\x1b…"),
    ("\x1b" * 100, 6, "\\x1b\\…"),
    ("ab\ncd", 4, "ab\\…"),
    ("abc", 0, ""),
    (None, 3, "No…"),
])
def test_visible_cuts_to_its_width_after_escaping(value, width, shown):
    assert visible(value, width) == shown


# --- md_text: free text as inert markdown on one line -------------------------------------------------------

@pytest.mark.parametrize("text,shown", [
    ("plain words", "plain words"),
    ("  a \n\t b \r\n c  ", "a b c"),
    ("\\`*_[]<>|#!~&@", "\\\\\\`\\*\\_\\[\\]\\<\\>\\|\\#\\!\\~\\&\\@"),
    ("see https://evil.example/x", "see https\\://evil.example/x"),
    ("a: b, a:/b, a:b//c", "a: b, a:/b, a:b//c"),
    ("www.evil.example and WwW.Evil", "www\\.evil.example and WwW\\.Evil"),
    ("ww.x wwwx.y x.www", "ww.x wwwx.y x.www"),
    ("a\x1bb", "a\\\\x1bb"),  # the escape's backslash is itself escaped: it shows as \x1b
    ("user@host.example", "user\\@host.example"),
    (None, "None"),
    (42, "42"),
])
def test_md_text_escapes_what_could_start_markdown(text, shown):
    assert md_text(text) == shown


def test_md_text_is_cut_to_its_width():
    assert md_text("y" * 80) == "y" * 80
    assert md_text("y" * 81) == "y" * 79 + "…"
    assert md_text("abc def", 4) == "abc…"
    assert md_text("a_b_c", 3) == "a\\_…"  # cut first, then escaped
    # Never more than 8 characters per column are read: what lies beyond cannot show.
    assert md_text("a" + " " * 15 + "b", 2) == "a"
    assert md_text("a" + " " * 14 + "b", 2) == "a…"


# --- md_code: a code span nothing can close early -----------------------------------------------------------

@pytest.mark.parametrize("args,kwargs,shown", [
    (("abc",), {}, "`abc`"),
    (("",), {}, "` `"),
    ((None,), {}, "`None`"),
    (("a|b",), {}, "`a\\|b`"),
    (("a|b",), {"in_table": False}, "`a|b`"),
    (("a`b",), {}, "`` a`b ``"),
    (("`a",), {}, "`` `a ``"),
    (("a`",), {}, "`` a` ``"),
    (("a``b`c",), {}, "``` a``b`c ```"),
    (("<img> *x* [l](u)",), {}, "`<img> *x* [l](u)`"),
    (("a\nb",), {}, "`a\\nb`"),
    (("z" * 60,), {}, "`" + "z" * 60 + "`"),
    (("z" * 61,), {}, "`" + "z" * 59 + "…`"),
    (("abcdef", 4), {}, "`abc…`"),
])
def test_md_code(args, kwargs, shown):
    assert md_code(*args, **kwargs) == shown


# --- change lines ----------------------------------------------------------------------------------------------

FOUR_CHANGES = {
    "kind": "VPC", "name": "vpc-1", "state": "modified", "severity": "high",
    "changes": [
        {"op": "replace", "path": "/a|b", "desired": "é", "actual": {"z": 1, "a": [True, None]}},
        {"op": "add", "path": "/c", "desired": None, "actual": 1.5},
        {"op": "remove-something", "path": "/d", "desired": "x" * 41, "actual": datetime.date(2026, 1, 2)},
        {"op": "replace", "path": "/e", "desired": 1, "actual": 2},
    ],
    "changes_omitted": "2",
}


def test_change_lines_as_markdown():
    assert change_lines(FOUR_CHANGES) == [
        'replace `/a\\|b`: `"é"` → `{"a": [true, null], "z": 1}`',
        "add `/c`: `null` → `1.5`",
        'remove-so… `/d`: `"' + "x" * 28 + '…` → `"2026-01-02"`',
        "… and 3 more",
    ]
    assert change_lines(FOUR_CHANGES, in_table=False)[0] == 'replace `/a|b`: `"é"` → `{"a": [true, null], "z": 1}`'
    assert change_lines(FOUR_CHANGES, limit=1, width=5) == ['replace `/a\\|b`: `"é"` → `{"a"…`', "… and 5 more"]
    long_path = {"state": "modified", "changes": [{"op": "add", "path": "/" + "p" * 70, "desired": 1, "actual": 2}]}
    assert change_lines(long_path) == ["add `/" + "p" * 58 + "…`: `1` → `2`"]


def test_change_lines_count_only_what_is_left_out():
    three = {"state": "modified", "changes": FOUR_CHANGES["changes"][1:]}
    assert len(change_lines(three)) == 3  # exactly the limit: no "… and 0 more"
    assert change_lines(dict(three, changes_omitted=1))[-1] == "… and 1 more"
    assert change_lines({"state": "modified", "changes": None, "changes_omitted": None}) == []


@pytest.mark.parametrize("state,line", [("missing", "in Git, not in the cluster"),
                                        ("extra", "in the cluster, not in Git")])
def test_missing_and_extra_say_which_side_has_it(state, line):
    resource = dict(FOUR_CHANGES, state=state)
    assert change_lines(resource) == [line]
    assert terminal_change_lines(resource) == [line]


def test_change_lines_for_a_terminal():
    assert terminal_change_lines(FOUR_CHANGES) == [
        'replace `/a|b`: é → {"a": [true, null], "z": 1}',
        "add `/c`: null → 1.5",
        "remove-so… `/d`: " + "x" * 39 + '… → "2026-01-02"',
        "replace `/e`: 1 → 2",
        "… and 2 more",  # the report left out 2
    ]
    assert terminal_change_lines(FOUR_CHANGES, limit=2, width=3) == [
        "replace `/a|b`: é → {\"…", "add `/c`: nu… → 1.5", "… and 4 more"]
    resource = {"state": "modified", "changes": [{"op": "add\x1b", "path": "/" + "p" * 90 + "\n", "desired": "a\rb",
                                                  "actual": {"k": "é\u202e"}}]}
    assert terminal_change_lines(resource) == ["add\\x1b `/" + "p" * 78 + '…`: a\\rb → {"k": "é\\u202e"}']


def test_terminal_change_lines_show_fifty_then_count_the_rest():
    changes = [{"op": "add", "path": f"/{i}", "desired": i, "actual": None} for i in range(51)]
    lines = terminal_change_lines({"state": "modified", "changes": changes})
    assert len(lines) == 51 and lines[49] == "add `/49`: 49 → null" and lines[50] == "… and 1 more"
    assert len(terminal_change_lines({"state": "modified", "changes": changes[:50]})) == 50
    assert terminal_change_lines({"state": "modified", "changes": changes[:50], "changes_omitted": 3})[-1] == (
        "… and 3 more")
    assert terminal_change_lines({"state": "modified"}) == []


# --- order -----------------------------------------------------------------------------------------------------

def test_worst_first_orders_by_severity_then_kind_then_name():
    resources = [{"severity": "bogus", "kind": "A", "name": "a"}, {"severity": "low", "kind": "Z", "name": "z"},
                 {"kind": "B", "name": "b"}, {"severity": "critical", "kind": "VPC", "name": "b"},
                 {"severity": "medium", "kind": "VPC", "name": "m"}, {"severity": "critical", "kind": "VPC", "name": "a"},
                 {"severity": "high", "kind": "VPC", "name": "h"}, {"severity": "critical", "kind": "Switch", "name": "z"},
                 {"severity": "none", "kind": "A", "name": "0"}]
    assert [(r.get("severity"), r["kind"], r["name"]) for r in worst_first(resources)] == [
        ("critical", "Switch", "z"), ("critical", "VPC", "a"), ("critical", "VPC", "b"), ("high", "VPC", "h"),
        ("medium", "VPC", "m"), ("low", "Z", "z"), ("none", "A", "0"), ("bogus", "A", "a"), (None, "B", "b")]


def test_worst_fabrics_first():
    rows = [{"fabric": "in-sync", "status": "in_sync", "severity": "none", "health": 0.9},
            {"fabric": "weird-status", "status": "weird", "severity": "none", "health": 0.1},
            {"fabric": "pending", "status": "pending", "health": None},
            {"fabric": "drifted-low", "status": "drifted", "severity": "low", "health": 0.9},
            {"fabric": "drifted-weird", "status": "drifted", "severity": "weird", "health": 0.1},
            {"fabric": "drifted-high-sick", "status": "drifted", "severity": "high", "health": 0.2},
            {"fabric": "drifted-high-well", "status": "drifted", "severity": "high", "health": 0.8},
            {"fabric": "drifted-high-b", "status": "drifted", "severity": "high", "health": 1.0},
            {"fabric": "drifted-high-a", "status": "drifted", "severity": "high", "health": None},
            {"fabric": "unknown-none", "status": "unknown", "severity": None, "health": 0.5},
            {"fabric": "unknown-critical", "status": "unknown", "severity": "critical", "health": 0.5}]
    assert [r["fabric"] for r in worst_fabrics_first(rows)] == [
        "unknown-critical", "unknown-none", "drifted-high-sick", "drifted-high-well", "drifted-high-a",
        "drifted-high-b", "drifted-low", "drifted-weird", "pending", "weird-status", "in-sync"]


# --- links into Git ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url,commit,path,link", [
    ("https://github.com/netops/fabrics.git", "c0ffee", "fab/a b/é#1.yaml",
     "https://github.com/netops/fabrics/blob/c0ffee/fab/a%20b/%C3%A9%231.yaml"),
    ("HTTPS://GitHub.com/netops/fabrics/", "c0ffee", "a.yaml", "https://github.com/netops/fabrics/blob/c0ffee/a.yaml"),
    ("https://github.com/netops/fabrics.git/", "c0ffee", "a.yaml",
     "https://github.com/netops/fabrics/blob/c0ffee/a.yaml"),
    ("https://github.com/netops/git.github", "c0ffee", "a.yaml",
     "https://github.com/netops/git.github/blob/c0ffee/a.yaml"),
    ("https://gitlab.example.com:8443/g/r.git", "c0ffee", "a.yaml",
     "https://gitlab.example.com:8443/g/r/-/blob/c0ffee/a.yaml"),
    ("https://mygitlab.corp/g/r", "c0ffee", "a.yaml", "https://mygitlab.corp/g/r/-/blob/c0ffee/a.yaml"),
    ("https://github.com/o/fabricsX", "c0ffee", "a.yaml", "https://github.com/o/fabricsX/blob/c0ffee/a.yaml"),
    ("https://github.com.evil.example/g/r", "c0ffee", "a.yaml", None),
    ("https://www.github.com/g/r", "c0ffee", "a.yaml", None),
    ("https://git.example.com/g/r", "c0ffee", "a.yaml", None),
    ("https://tok@github.com/g/r", "c0ffee", "a.yaml", None),
    ("https://:pw@github.com/g/r", "c0ffee", "a.yaml", None),
    ("https://github.com/g/r?x=1", "c0ffee", "a.yaml", None),
    ("https://github.com/g/r#top", "c0ffee", "a.yaml", None),
    ("http://github.com/g/r", "c0ffee", "a.yaml", None),
    ("ssh://git@github.com/g/r", "c0ffee", "a.yaml", None),
    ("", "c0ffee", "a.yaml", None),
    (None, "c0ffee", "a.yaml", None),
    ("https://github.com/g/r", None, "a.yaml", None),
    ("https://github.com/g/r", "", "a.yaml", None),
])
def test_git_file_url(url, commit, path, link):
    assert git_file_url(url, commit, path) == link


@pytest.mark.parametrize("resource,links,kwargs,shown", [
    ({"source": "vpcs/v.yaml#2"}, SourceLinks("https://github.com/o/r.git", "/fab/x/"), {},
     "[`vpcs/v.yaml#2`](https://github.com/o/r/blob/c0ffee/fab/x/vpcs/v.yaml)"),
    ({"source": "vpcs/v.yaml"}, SourceLinks("https://github.com/o/r", "fab"), {},
     "[`vpcs/v.yaml`](https://github.com/o/r/blob/c0ffee/fab/vpcs/v.yaml)"),
    ({"source": "a#b#3"}, SourceLinks("https://github.com/o/r", "/"), {}, "[`a#b#3`](https://github.com/o/r/blob/c0ffee/a%23b)"),
    ({"source": "#1"}, SourceLinks("https://github.com/o/r"), {}, "[`#1`](https://github.com/o/r/blob/c0ffee/%231)"),
    ({"source": "v.yaml#1"}, SourceLinks("https://github.com/o/r", "X/"), {},
     "[`v.yaml#1`](https://github.com/o/r/blob/c0ffee/X/v.yaml)"),
    ({"source": "v|w.yaml#1"}, None, {}, "`v\\|w.yaml#1`"),
    ({"source": "v|w.yaml#1"}, None, {"in_table": False}, "`v|w.yaml#1`"),
    ({"source": "v.yaml#1"}, SourceLinks("https://git.example.com/o/r"), {}, "`v.yaml#1`"),
    ({"source": "s" * 70}, None, {}, "`" + "s" * 59 + "…`"),
    ({"source": ""}, SourceLinks("https://github.com/o/r"), {}, "—"),
    ({"source": 7}, SourceLinks("https://github.com/o/r"), {}, "—"),
    ({}, SourceLinks("https://github.com/o/r"), {}, "—"),
])
def test_desired_location(resource, links, kwargs, shown):
    assert desired_location(resource, "c0ffee", links, **kwargs) == shown


# --- the report as markdown ----------------------------------------------------------------------------------

def _drifted_report():
    return {
        "fabric": "fab-a", "status": "drifted", "generated_at": "2026-11-28T12:00:00Z",
        "git": {"commit": COMMIT, "ref": "main", "resources": 3, "message": "move vlan", "author": "Ada",
                "url": "https://bot:tok3n@github.com/netops/fabrics.git?x=1"},
        "cluster": {"resources": 4, "server": "https://10.0.0.1:6443"},
        "summary": {"in_sync": 1, "modified": 1, "missing": 1, "extra": 1},
        "score": 0.25, "severity": "critical", "drift_since": "2026-11-28T11:00:00Z",
        "resources": [
            {"kind": "VPC", "name": "vpc-1", "state": "modified", "severity": "high", "source": "vpcs/vpc-1.yaml#2",
             "changes": [{"op": "replace", "path": "/spec/vlan", "desired": 1001, "actual": 1002}]},
            {"kind": "VPC", "name": "rogue", "state": "extra", "severity": "critical", "changes": []},
            {"kind": "Switch", "name": "leaf-1", "state": "missing", "severity": "critical",
             "source": "wiring/leaf-1.yaml#1", "changes": []},
        ],
        "errors": [],
        "warnings": [{"source": "vpcs/b.yaml", "document": 2, "level": "warning", "message": "unknown field x"},
                     {"source": "vpcs/c.yaml", "document": 0, "level": "warning", "message": "a|b"},
                     {"source": "vpcs/d.yaml", "level": "warning", "message": "old *apiVersion*"}],
    }


BLOB = f"https://github.com/netops/fabrics/blob/{COMMIT}/fab-a"

DRIFTED_MARKDOWN = f"""\
### ⚠ drifted · fab-a: 3 resources differ from Git

severity **critical** · score **0.25** · drifted since 2026-11-28T11:00:00Z

| modified | missing | extra | in sync |
|---|---|---|---|
| 1 | 1 | 1 | 1 |

**Desired** · Git `0123456789ab` on `main`: *move vlan* by Ada · 3 resources

Repository `https://github.com/netops/fabrics.git`

**Live** · `https://10.0.0.1:6443` · 4 resources

Look: `kubectl --context admin@fab-a get <kind>/<name>`

**What differs** (desired → live), worst first, with where Git defines it at `0123456789ab`:

- **critical** Switch `leaf-1` (missing)
  - in Git [`wiring/leaf-1.yaml#1`]({BLOB}/wiring/leaf-1.yaml)
  - in Git, not in the cluster
- **critical** VPC `rogue` (extra)
  - in the cluster, not in Git
- high VPC `vpc-1` (modified)
  - in Git [`vpcs/vpc-1.yaml#2`]({BLOB}/vpcs/vpc-1.yaml)
  - replace `/spec/vlan`: `1001` → `1002`

**Problems** (a fabric with errors is never reported in sync)

| level | where | problem |
|---|---|---|
| warning | `vpcs/b.yaml (document 2)` | unknown field x |
| warning | `vpcs/c.yaml` | a\\|b |
| warning | `vpcs/d.yaml` | old \\*apiVersion\\* |"""


def test_a_drifted_report_reads_top_down():
    links = SourceLinks(git_url="https://github.com/netops/fabrics.git", git_path="fab-a", kube_context="admin@fab-a")
    # Exactly max_rows resources and problems: nothing is said to be left out.
    assert report_markdown(_drifted_report(), max_rows=3, links=links) == DRIFTED_MARKDOWN
    assert report_markdown(_drifted_report(), links=links) == DRIFTED_MARKDOWN


def test_what_a_drifted_report_leaves_out_is_counted():
    links = SourceLinks(git_url="https://github.com/netops/fabrics.git", git_path="fab-a", kube_context="admin@fab-a")
    report = _drifted_report()
    report.update(resources_omitted=5, warnings_omitted=4)
    md = report_markdown(report, max_rows=1, links=links)
    tail = md[md.index("**What differs**"):]
    assert tail == f"""\
**What differs** (desired → live), worst first, with where Git defines it at `0123456789ab`:

- **critical** Switch `leaf-1` (missing)
  - in Git [`wiring/leaf-1.yaml#1`]({BLOB}/wiring/leaf-1.yaml)
  - in Git, not in the cluster

… 7 more drifted resources in the report JSON.

**Problems** (a fabric with errors is never reported in sync)

| level | where | problem |
|---|---|---|
| warning | `vpcs/b.yaml (document 2)` | unknown field x |

… 6 more in the report JSON."""


def test_an_unknown_report_puts_its_problems_first():
    report = {
        "fabric": "fab_b", "status": "unknown", "git": {"commit": None, "ref": "main", "author": "Ada"},
        "cluster": {"server": None}, "summary": {"in_sync": 0, "modified": 2, "missing": 0, "extra": 0},
        "score": 0, "severity": "none", "drift_since": None,
        "resources": [
            {"kind": "VPC", "name": "v3", "state": "modified", "severity": "low", "changes": []},
            {"kind": "VPC", "name": "v|2", "state": "modified", "severity": "medium", "source": 12,
             "changes": [{"op": "replace", "path": "/spec/a", "desired": "x", "actual": "y"},
                         {"op": "add", "path": "/spec/b|c", "desired": None, "actual": {"k": [1, 2]}},
                         {"op": "remove", "path": "/spec/`t`", "desired": True, "actual": None},
                         {"op": "remove", "path": "/spec/u", "desired": 1, "actual": None}],
             "changes_omitted": 1}],
        "resources_omitted": 3,
        "errors": [{"source": "git", "level": "error", "message": "clone failed: <timeout>"}],
        "errors_omitted": 2, "warnings": None,
    }
    assert report_markdown(report, max_rows=1) == """\
### ⊘ unknown · fab\\_b: could not check everything; fix what is listed first

severity **none** · score **0**

| modified | missing | extra | in sync |
|---|---|---|---|
| 2 | 0 | 0 | 0 |

**Desired** · Git `unread` on `main`

**Live** · unread

**Problems** (a fabric with errors is never reported in sync)

| level | where | problem |
|---|---|---|
| error | `git` | clone failed: \\<timeout\\> |

… 2 more in the report JSON.

**What differs** (desired → live), worst first, with where Git defines it:

- medium VPC `v|2` (modified)
  - replace `/spec/a`: `"x"` → `"y"`
  - add `/spec/b|c`: `null` → `{"k": [1, 2]}`
  - remove `` /spec/`t` ``: `true` → `null`
  - … and 2 more

… 4 more drifted resources in the report JSON."""


def test_an_in_sync_report_with_the_repository_from_the_inventory():
    report = {
        "fabric": "fab-c", "status": "in_sync",
        "git": {"commit": "abc", "ref": "release/1", "resources": 0, "message": "init\nsecond  line"},
        "cluster": {"server": "https://k:6443", "resources": 0},
        "summary": {"in_sync": 0, "modified": 0, "missing": 0, "extra": 0}, "score": 0.0, "severity": "none",
        "drift_since": "", "resources": [], "errors": [], "warnings": [],
    }
    assert report_markdown(report, links=SourceLinks(git_url="https://u:p@gitlab.example.com/g/r.git")) == """\
### ✔ in sync · fab-c: 0 resources match Git

severity **none** · score **0.0**

| modified | missing | extra | in sync |
|---|---|---|---|
| 0 | 0 | 0 | 0 |

**Desired** · Git `abc` on `release/1`: *init second line* · 0 resources

Repository `https://gitlab.example.com/g/r.git`

**Live** · `https://k:6443` · 0 resources"""
    report["summary"]["in_sync"] = 7
    assert report_markdown(report).splitlines()[0] == "### ✔ in sync · fab-c: 7 resources match Git"


@pytest.mark.parametrize("summary,headline", [
    ({"in_sync": 5, "modified": 1, "missing": 0, "extra": 0}, "1 resource differs from Git"),
    ({"in_sync": 5, "modified": 0, "missing": 0, "extra": 1}, "1 resource differs from Git"),
    ({"in_sync": 5, "modified": 0, "missing": 2, "extra": 0}, "2 resources differ from Git"),
    ({"in_sync": 5, "modified": 1, "missing": 1, "extra": 1}, "3 resources differ from Git"),
    ({"in_sync": 5, "modified": 0, "missing": 0, "extra": 0}, "0 resources differ from Git"),
])
def test_the_headline_counts_what_differs(summary, headline):
    report = {"fabric": "f", "status": "drifted", "git": {}, "cluster": {}, "summary": summary, "score": 0,
              "severity": "low"}
    assert report_markdown(report).splitlines()[0] == f"### ⚠ drifted · f: {headline}"


def test_every_text_in_the_report_is_cut_to_its_width():
    report = {
        "fabric": "F" * 70, "status": "S" * 25, "severity": "V" * 15, "score": 1, "drift_since": "D" * 35,
        "git": {"commit": "c" * 40, "ref": "R" * 50, "message": "M" * 90, "author": "A" * 50, "resources": 1,
                "url": "https://" + "u" * 120},
        "cluster": {"server": "https://" + "s" * 120},
        "summary": {"in_sync": 0, "modified": 0, "missing": 0, "extra": 0},
        "resources": [{"kind": "K" * 50, "name": "N" * 70, "state": "T" * 15, "severity": "W" * 15,
                       "source": "P" * 70 + "#1",
                       "changes": [{"op": "O" * 15, "path": "/" + "p" * 70, "desired": "d" * 40, "actual": "a" * 40}]}],
        "warnings": [{"level": "L" * 15, "source": "Q" * 70, "message": "E" * 210}],
    }
    md = report_markdown(report, links=SourceLinks(kube_context="k" * 100))
    assert md == f"""\
### {"S" * 19}… · {"F" * 62}…: could not check everything; fix what is listed first

severity **{"V" * 9}…** · score **1** · drifted since {"D" * 29}…

| modified | missing | extra | in sync |
|---|---|---|---|
| 0 | 0 | 0 | 0 |

**Desired** · Git `cccccccccccc` on `{"R" * 39}…`: *{"M" * 79}…* by {"A" * 39}… · 1 resources

Repository `https://{"u" * 91}…`

**Live** · `https://{"s" * 91}…`

Look: `kubectl --context {"k" * 81}…`

**What differs** (desired → live), worst first, with where Git defines it at `cccccccccccc`:

- {"W" * 9}… {"K" * 39}… `{"N" * 59}…` ({"T" * 9}…)
  - in Git `{"P" * 59}…`
  - {"O" * 9}… `/{"p" * 58}…`: `"{"d" * 28}…` → `"{"a" * 28}…`

**Problems** (a fabric with errors is never reported in sync)

| level | where | problem |
|---|---|---|
| {"L" * 9}… | `{"Q" * 59}…` | {"E" * 199}… |"""


def test_a_commit_is_shown_as_twelve_inert_columns():
    report = {"fabric": "f", "status": "in_sync", "git": {"commit": "\x1b" * 20, "ref": "main"}, "cluster": {},
              "summary": {"in_sync": 1, "modified": 0, "missing": 0, "extra": 0}, "score": 0, "severity": "none"}
    assert report_markdown(report).splitlines()[8] == "**Desired** · Git `\\\\x1b\\\\x1b\\\\x1…` on `main`"


def test_the_report_shows_twenty_resources_and_problems_by_default():
    resources = [{"kind": "VPC", "name": f"v{i:02}", "state": "extra", "severity": "low"} for i in range(21)]
    warnings = [{"source": f"w{i:02}.yaml", "level": "warning", "message": "m"} for i in range(21)]
    report = {"fabric": "f", "status": "drifted", "git": {"commit": "c"}, "cluster": {},
              "summary": {"in_sync": 0, "modified": 0, "missing": 0, "extra": 21}, "score": 1, "severity": "low",
              "resources": resources, "warnings": warnings}
    md = report_markdown(report)
    assert "- low VPC `v19` (extra)" in md and "v20" not in md and "w19.yaml" in md and "w20" not in md
    assert "\n\n… 1 more drifted resources in the report JSON.\n" in md
    assert md.endswith("| warning | `w19.yaml` | m |\n\n… 1 more in the report JSON.")
    report.update(resources=resources[:20], warnings=warnings[:20])
    md = report_markdown(report)
    assert "more" not in md and md.endswith("| warning | `w19.yaml` | m |")


# --- the fleet ----------------------------------------------------------------------------------------------------

def test_the_fleet_in_one_glance():
    rows = [
        {"fabric": "fab-a", "status": "in_sync", "severity": "none", "health": 0.981, "priority": "medium",
         "drift_since": ""},
        {"fabric": "fab-b", "status": "drifted", "severity": "high", "health": 0.7, "priority": "high",
         "drift_since": "2026-11-28T11:00:00Z", "fresh": True},
        {"fabric": "fab-c", "status": "unknown", "severity": None, "health": None, "priority": None,
         "isolated": True, "fresh": False},
        {"fabric": "fab-d", "status": "pending", "fresh": None, "isolated": False},
        {"fabric": "fab-e", "status": "drifted", "severity": "critical", "health": 0.9, "priority": "critical",
         "fresh": False, "isolated": True},
        {"fabric": "fab_f", "status": "drifted", "severity": "high", "health": 0.5, "priority": "low_*"},
    ]
    assert fleet_markdown(rows) == """\
### Fleet: 6 fabrics · 3 drifted, 1 unknown, 1 not checked yet, 1 in sync

isolated: `fab-c`, `fab-e` · report older than 3 cycles: `fab-c`, `fab-e`

| fabric | status | severity | health | priority | drift since |
|---|---|---|---|---|---|
| `fab-c` | ⊘ unknown | none | — | — | — |
| `fab-e` | ⚠ drifted | **critical** | 0.90 | critical | — |
| `fab_f` | ⚠ drifted | high | 0.50 | low\\_\\* | — |
| `fab-b` | ⚠ drifted | high | 0.70 | high | 2026-11-28T11:00:00Z |
| `fab-d` | … not checked yet | none | — | — | — |
| `fab-a` | ✔ in sync | none | 0.98 | medium | — |"""


def test_a_small_fleet():
    assert fleet_markdown([]) == "### Fleet: 0 fabrics · none yet"
    assert fleet_markdown([{"fabric": "a|b", "status": "in_sync", "health": 1, "fresh": False, "isolated": 1}]) == """\
### Fleet: 1 fabric · 1 in sync

isolated: `a|b` · report older than 3 cycles: `a|b`

| fabric | status | severity | health | priority | drift since |
|---|---|---|---|---|---|
| `a\\|b` | ✔ in sync | none | 1.00 | — | — |"""
    assert fleet_markdown([{"fabric": "x", "status": "weird_one", "severity": "sev*", "health": 0.5, "isolated": True},
                           {"fabric": "y", "status": "pending"}]) == """\
### Fleet: 2 fabrics · 1 not checked yet

isolated: `x`

| fabric | status | severity | health | priority | drift since |
|---|---|---|---|---|---|
| `y` | … not checked yet | none | — | — | — |
| `x` | weird\\_one | sev\\* | 0.50 | — | — |"""


def test_the_fleet_cuts_long_names_and_counts_the_rows_left_out():
    row = {"fabric": "F" * 70, "status": "S" * 25, "severity": "V" * 15, "health": 0.5, "priority": "P" * 25,
           "drift_since": "D" * 35, "isolated": True, "fresh": False}
    assert fleet_markdown([row]).splitlines()[2:] == [
        f"isolated: `{'F' * 62}…` · report older than 3 cycles: `{'F' * 62}…`", "", "| fabric | status | severity | health | priority | drift since |",
        "|---|---|---|---|---|---|",
        f"| `{'F' * 62}…` | {'S' * 19}… | {'V' * 9}… | 0.50 | {'P' * 19}… | {'D' * 29}… |"]
    rows = [{"fabric": f"f{i:02}", "status": "in_sync", "health": 1.0} for i in range(51)]
    md = fleet_markdown(rows)
    assert md.endswith("| `f49` | ✔ in sync | none | 1.00 | — | — |\n\n… 1 more fabrics in the table.")
    assert fleet_markdown(rows[:50]).endswith("| `f49` | ✔ in sync | none | 1.00 | — | — |")
    assert fleet_markdown(rows, max_rows=2).endswith("| `f01` | ✔ in sync | none | 1.00 | — | — |\n\n"
                                                     "… 49 more fabrics in the table.")


# --- the terminal table ----------------------------------------------------------------------------------------

def test_the_terminal_table():
    report = {
        "fabric": "fab-t", "status": "drifted", "severity": "high", "score": 0.5,
        "git": {"commit": "0123456789abcdef", "ref": "main", "url": "https://github.com/o/r.git"},
        "cluster": {"server": "https://k:6443"},
        "summary": {"in_sync": 5, "modified": 1, "missing": 1, "extra": 0},
        "drift_since": "2026-11-28T11:00:00Z",
        "resources": [
            {"kind": "VPC", "name": "vpc-1", "state": "modified", "severity": "high", "source": "vpcs/vpc-1.yaml#1",
             "changes": [{"op": "replace", "path": "/spec/vlan", "desired": 1001, "actual": 1002},
                         {"op": "add", "path": "/metadata/labels/x", "desired": "é", "actual": {"b": 1, "a": None}}]},
            {"kind": "Switch", "name": "leaf-1", "state": "missing", "severity": "critical",
             "source": "wiring/leaf-1.yaml#3", "changes": []},
            {"kind": "VPC", "name": "gone", "state": "extra", "severity": "medium"},
        ],
        "resources_omitted": 2,
        "errors": [{"source": "vpcs/bad.yaml", "message": "bad\tyaml"}],
        "warnings": [{"source": "cluster", "message": "slow"}],
    }
    assert report_table(report) == """\
fabric fab-t: drifted (severity high, score 0.5, drifted since 2026-11-28T11:00:00Z)
  git 0123456789ab (main) https://github.com/o/r.git, cluster https://k:6443
  in_sync 5  modified 1  missing 1  extra 0

SEVERITY  STATE     KIND    NAME    IN GIT                CHANGE
critical  missing   Switch  leaf-1  wiring/leaf-1.yaml#3  in Git, not in the cluster
high      modified  VPC     vpc-1   vpcs/vpc-1.yaml#1     replace `/spec/vlan`: 1001 → 1002
                                                          add `/metadata/labels/x`: é → {"a": null, "b": 1}
medium    extra     VPC     gone    —                     in the cluster, not in Git
… 2 more drifted resources in the report JSON
error: vpcs/bad.yaml: bad\\tyaml
warning: cluster: slow"""


def test_a_terminal_table_without_resources():
    report = {"fabric": "fab-u", "status": "unknown", "severity": "none", "score": 0, "drift_since": None,
              "git": {"commit": None, "ref": "main"}, "cluster": {},
              "summary": {"in_sync": 0, "modified": 0, "missing": 0, "extra": 0},
              "resources": [], "errors": [{"source": "git", "message": "x"}, {"source": "k8s", "message": "y"}],
              "warnings": None}
    assert report_table(report) == """\
fabric fab-u: unknown (severity none, score 0)
  git unread (main), cluster unread
  in_sync 0  modified 0  missing 0  extra 0
error: git: x
error: k8s: y"""
    del report["git"], report["cluster"]
    assert report_table(report).splitlines()[1] == "  git unread (None), cluster unread"


def test_every_text_in_the_terminal_table_is_cut_to_its_width():
    report = {
        "fabric": "F" * 70, "status": "S" * 25, "severity": "V" * 15, "score": 1, "drift_since": "D" * 35,
        "git": {"commit": "c" * 40, "ref": "R" * 70, "url": "U" * 130}, "cluster": {"server": "s" * 130},
        "summary": {"in_sync": 0, "modified": 0, "missing": 0, "extra": 0},
        "resources": [{"kind": "K" * 50, "name": "N" * 90, "state": "T" * 15, "severity": "W" * 15,
                       "source": "P" * 90,
                       "changes": [{"op": "add", "path": "/x", "desired": 1, "actual": 2}]}],
        "errors": [{"source": "Q" * 130, "message": "E" * 1010}],
        "warnings": [{"source": "q" * 130, "message": "e" * 1010}],
    }
    lines = report_table(report).splitlines()
    assert lines[0] == f"fabric {'F' * 62}…: {'S' * 19}… (severity {'V' * 9}…, score 1, drifted since {'D' * 29}…)"
    assert lines[1] == f"  git {'c' * 12} ({'R' * 59}…) {'U' * 119}…, cluster {'s' * 119}…"
    assert lines[5] == f"{'W' * 9}…  {'T' * 9}…  {'K' * 39}…  {'N' * 79}…  {'P' * 79}…  add `/x`: 1 → 2"
    assert lines[6] == f"error: {'Q' * 119}…: {'E' * 999}…"
    assert lines[7] == f"warning: {'q' * 119}…: {'e' * 999}…"
    assert len(lines) == 8


def test_what_the_report_left_out_is_counted_even_when_fewer_than_the_limit_are_listed():
    """A report over its byte budget drops a resource's changes (changes: [], changes_omitted: N), and a
    report keeps fewer resources than the markdown's 20 when the rest did not fit: the text must say all
    N were left out, not N minus the rows it had room for (it said "… and 1 more" for 4)."""
    assert change_lines({"state": "modified", "changes": [], "changes_omitted": 4}) == ["… and 4 more"]
    assert change_lines({"state": "modified", "changes": [], "changes_omitted": 2}) == ["… and 2 more"]
    one = [{"op": "add", "path": "/a", "desired": 1, "actual": 2}]
    assert change_lines({"state": "modified", "changes": one, "changes_omitted": 1}) == [
        "add `/a`: `1` → `2`", "… and 1 more"]
    assert terminal_change_lines({"state": "modified", "changes": [], "changes_omitted": 4}) == ["… and 4 more"]
    assert terminal_change_lines({"state": "modified", "changes": one, "changes_omitted": 49}) == [
        "add `/a`: 1 → 2", "… and 49 more"]
    report = {"fabric": "f", "status": "drifted", "git": {}, "cluster": {}, "score": 1, "severity": "low",
              "summary": {"in_sync": 0, "modified": 0, "missing": 0, "extra": 5},
              "resources": [{"kind": "VPC", "name": "a", "state": "extra", "severity": "low"},
                            {"kind": "VPC", "name": "b", "state": "extra", "severity": "low"}],
              "resources_omitted": 3,
              "warnings": [{"source": "w.yaml", "level": "warning", "message": "m"}], "warnings_omitted": 2,
              "errors_omitted": 1}
    md = report_markdown(report)
    assert "\n\n… 3 more drifted resources in the report JSON.\n" in md
    assert md.endswith("| warning | `w.yaml` | m |\n\n… 3 more in the report JSON.")


def test_values_are_json_with_their_own_characters():
    resource = {"state": "modified", "changes": [
        {"op": "add", "path": "/l", "desired": {"k": "é", "b": datetime.date(2026, 1, 2)}, "actual": ["ü", 1.0]}]}
    assert change_lines(resource, width=40) == ['add `/l`: `{"b": "2026-01-02", "k": "é"}` → `["ü", 1.0]`']
    assert terminal_change_lines(resource) == ['add `/l`: {"b": "2026-01-02", "k": "é"} → ["ü", 1.0]']


def test_outside_tables_a_pipe_is_shown_as_it_is():
    report = {"fabric": "f", "status": "drifted", "git": {"commit": "abc", "ref": "a|b", "url": "https://h/a|b"},
              "cluster": {"server": "https://k/a|b"}, "summary": {"in_sync": 0, "modified": 0, "missing": 0, "extra": 1},
              "score": 1, "severity": "low",
              "resources": [{"kind": "VPC", "name": "n|m", "state": "extra", "severity": "low", "source": "s|t.yaml#1"}]}
    assert report_markdown(report, links=SourceLinks(kube_context="c|d")).splitlines()[8:] == [
        "**Desired** · Git `abc` on `a|b`", "", "Repository `https://h/a|b`", "", "**Live** · `https://k/a|b`", "",
        "Look: `kubectl --context c|d get <kind>/<name>`", "",
        "**What differs** (desired → live), worst first, with where Git defines it at `abc`:", "",
        "- low VPC `n|m` (extra)", "  - in Git `s|t.yaml#1`", "  - in the cluster, not in Git"]


def test_a_pipe_in_a_value_is_escaped_only_inside_a_table():
    resource = {"state": "modified", "changes": [{"op": "replace", "path": "/p", "desired": "a|b", "actual": {"k": "|"}}]}
    assert change_lines(resource) == ['replace `/p`: `"a\\|b"` → `{"k": "\\|"}`']
    assert change_lines(resource, in_table=False) == ['replace `/p`: `"a|b"` → `{"k": "|"}`']
