"""A drift report as text a person reads in five seconds: markdown for the UI, a table for terminals."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import quote, urlsplit

from hedgehog_sync.domain.drift_report import DriftReport, as_report_json
from hedgehog_sync.domain.redaction import safe_url
from hedgehog_sync.domain.vocabulary import (
    CRITICAL, DRIFTED, EXTRA, HIGH, IN_SYNC_STATUS, LOW, MEDIUM, MISSING, NONE, PENDING, SEVERITY_RANK, UNKNOWN,
    drifted_count,
)

# Symbols common fonts have: colour emoji are empty boxes where no emoji font is installed.
STATUS_BADGE = {IN_SYNC_STATUS: "✔ in sync", DRIFTED: "⚠ drifted", UNKNOWN: "⊘ unknown",
                PENDING: "… not checked yet"}
SEVERITY_BADGE = {CRITICAL: "**critical**", HIGH: "high", MEDIUM: "medium", LOW: "low", NONE: "none"}
STATUS_RANK = {UNKNOWN: 3, DRIFTED: 2, PENDING: 1, IN_SYNC_STATUS: 0}


@dataclass(frozen=True)
class SourceLinks:
    """Where a person looks at each side of a fabric: its Git repository and its kubectl context.

    Comes from the fabric's inventory entry; the report itself carries neither (URLs may be private).
    """

    git_url: str | None = None
    git_path: str = ""  # the fabric's folder in the repository; report sources are relative to it
    kube_context: str | None = None


# --- text from Git or a cluster, made inert -------------------------------------------------------------

# Characters a terminal or a renderer acts on instead of showing: C0 and C1 controls (CR, ESC, ...),
# line and paragraph separators, and invisible format characters (bidi overrides, zero-width space).
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
                        "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible_char(match: re.Match[str]) -> str:
    c = match.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def visible(value: Any, width: int | None = None) -> str:
    """Text with every control or invisible character shown as an escape (\\r, \\x1b, \\u202e), cut to
    width: what a terminal prints is what the text holds."""
    text = value if isinstance(value, str) else str(value)
    if width is not None and len(text) > width * 8:
        text = text[: width * 8]  # escapes grow text at most 6x: never escape megabytes to show 40 characters
    text = _INVISIBLE.sub(_visible_char, text)
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return text


# CommonMark/GFM syntax that inline text could start: emphasis, code, links, images, HTML, tables,
# headings, strikethrough, entities; and what starts an autolink (scheme://, www., user@host).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~&@])|(:)(?=//)|(?<=www)(\.)", re.IGNORECASE)


def md_text(value: Any, width: int = 80) -> str:
    """Free text from Git or a cluster as inert markdown on one line: no link, image, tag or table cell
    can start inside it, and control characters show as escapes."""
    text = str(value)
    text = visible(" ".join(text[: width * 8].split()), width)  # line breaks and tabs read as spaces
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(), text)


def md_code(value: Any, width: int = 60, *, in_table: bool = True) -> str:
    """A name, path or value from Git or a cluster as a code span: nothing inside renders, and the span
    cannot be closed early (its fence is longer than any run of backticks inside) or break a table row."""
    text = visible(value, width)
    if in_table:
        text = text.replace("|", "\\|")
    if not text:
        return "` `"
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _json_text(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str, ensure_ascii=False) if not isinstance(v, str) else json.dumps(
        v, ensure_ascii=False)


def worst_first(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(resources, key=lambda r: (-SEVERITY_RANK.get(r.get("severity"), 0), str(r.get("kind")),
                                            str(r.get("name"))))


def _presence_line(resource: dict[str, Any]) -> str | None:
    state = resource.get("state")
    if state == MISSING:
        return "in Git, not in the cluster"
    if state == EXTRA:
        return "in the cluster, not in Git"
    return None


def change_lines(resource: dict[str, Any], limit: int = 3, width: int = 30, *, in_table: bool = True) -> list[str]:
    """Each change as markdown: `op` `path`: `desired` → `actual`, every piece a code span."""
    presence = _presence_line(resource)
    if presence:
        return [presence]
    changes = resource.get("changes") or []
    lines = []
    for c in changes[:limit]:
        lines.append(f"{md_text(c.get('op'), 10)} {md_code(c.get('path'), 60, in_table=in_table)}: "
                     f"{md_code(_json_text(c.get('desired')), width, in_table=in_table)} → "
                     f"{md_code(_json_text(c.get('actual')), width, in_table=in_table)}")
    more = max(len(changes) - limit, 0) + int(resource.get("changes_omitted") or 0)
    if more > 0:
        lines.append(f"… and {more} more")
    return lines


def terminal_change_lines(resource: dict[str, Any], limit: int = 50, width: int = 40) -> list[str]:
    """Each change for a terminal: op `path`: desired → actual, control characters shown as escapes."""
    presence = _presence_line(resource)
    if presence:
        return [presence]
    changes = resource.get("changes") or []
    lines = [f"{visible(c.get('op'), 10)} `{visible(c.get('path'), 80)}`: {visible(_plain(c.get('desired')), width)} → "
             f"{visible(_plain(c.get('actual')), width)}" for c in changes[:limit]]
    more = max(len(changes) - limit, 0) + int(resource.get("changes_omitted") or 0)
    if more > 0:
        lines.append(f"… and {more} more")
    return lines


def _plain(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str, ensure_ascii=False)


def git_file_url(git_url: str | None, commit: str | None, path: str) -> str | None:
    """A web link to a file at a commit, for repositories on GitHub or a GitLab (None elsewhere:
    hosts differ in how they spell it, and a wrong link is worse than none)."""
    if not git_url or not commit or not git_url.lower().startswith("https://"):
        return None
    parts = urlsplit(git_url)
    if parts.username or parts.password or parts.query or parts.fragment:
        return None
    base = f"https://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}".rstrip("/")
    base = base[:-4] if base.endswith(".git") else base
    quoted = quote(path)
    if parts.hostname == "github.com":
        return f"{base}/blob/{commit}/{quoted}"
    if parts.hostname and "gitlab" in parts.hostname:
        return f"{base}/-/blob/{commit}/{quoted}"
    return None


def desired_location(resource: dict[str, Any], commit: str | None, links: SourceLinks | None,
                     *, in_table: bool = True) -> str:
    """`file#document` in Git, linked to the file at the report's commit when the host allows."""
    source = resource.get("source")
    if not source or not isinstance(source, str):
        return "—"
    path, _, document = source.rpartition("#")
    path = path or source
    label = md_code(source, 60, in_table=in_table)
    links = links or SourceLinks()
    full_path = f"{links.git_path.strip('/')}/{path}" if links.git_path.strip("/") else path
    url = git_file_url(links.git_url, commit, full_path)
    return f"[{label}]({url})" if url else label


def _headline(report: dict[str, Any]) -> str:
    status, summary = report["status"], report["summary"]
    differ = drifted_count(summary)
    if status == IN_SYNC_STATUS:
        detail = f"{summary['in_sync']} resources match Git"
    elif status == DRIFTED:
        detail = f"{differ} resource{'s differ' if differ != 1 else ' differs'} from Git"
    else:
        detail = "could not check everything; fix what is listed first"
    return f"### {STATUS_BADGE.get(status) or md_text(status, 20)} · {md_text(report['fabric'], 63)}: {detail}"


def _problem_rows(report: dict[str, Any], max_rows: int) -> list[str]:
    problems = list(report.get("errors") or []) + list(report.get("warnings") or [])
    if not problems:
        return []
    out = ["", "**Problems** (a fabric with errors is never reported in sync)", "",
           "| level | where | problem |", "|---|---|---|"]
    for e in problems[:max_rows]:
        where = str(e.get("source")) + (f" (document {e['document']})" if e.get("document") else "")
        out.append(f"| {md_text(e.get('level'), 10)} | {md_code(where, 60)} | {md_text(e.get('message'), 200)} |")
    more = (max(len(problems) - max_rows, 0) + int(report.get("errors_omitted") or 0)
            + int(report.get("warnings_omitted") or 0))
    if more > 0:
        out.append(f"\n… {more} more in the report JSON.")
    return out


def report_markdown(report: DriftReport | dict[str, Any], max_rows: int = 20, *,
                    links: SourceLinks | None = None) -> str:
    """Status and counts, where both sides stand (commit, message and repository; server and kubectl
    context), then the worst drift first, each resource with its place in Git (file#document at the
    commit) and, below it, what differs: a list, not a table, so nothing is cut off at any width (a
    wide table's last column was, at 1600 px); every text from Git or a cluster is inert."""
    report = as_report_json(report)
    git, cluster, summary = report["git"], report["cluster"], report["summary"]
    facts = [f"severity **{md_text(report['severity'], 10)}**", f"score **{report['score']}**"]
    if report.get("drift_since"):
        facts.append(f"drifted since {md_text(report['drift_since'], 30)}")
    out = [_headline(report), "", " · ".join(facts), "",
           "| modified | missing | extra | in sync |", "|---|---|---|---|",
           f"| {summary['modified']} | {summary['missing']} | {summary['extra']} | {summary['in_sync']} |", ""]
    commit = git.get("commit")
    short = md_text(str(commit)[:12], 12) if commit else "unread"
    desired = f"**Desired** · Git `{short}` on {md_code(git.get('ref'), 40, in_table=False)}"
    if git.get("message"):
        desired += f": *{md_text(git['message'])}*"
        if git.get("author"):
            desired += f" by {md_text(git['author'], 40)}"
    if git.get("resources") is not None:
        desired += f" · {git['resources']} resources"
    out += [desired]
    repository = git.get("url") or (links.git_url if links else None)
    if repository:
        out += ["", f"Repository {md_code(safe_url(repository), 100, in_table=False)}"]
    server = cluster.get("server")
    live = f"**Live** · {md_code(server, 100, in_table=False) if server else 'unread'}"
    if cluster.get("resources") is not None:
        live += f" · {cluster['resources']} resources"
    out += ["", live]
    if links and links.kube_context:
        out += ["", "Look: " + md_code(f"kubectl --context {links.kube_context} get <kind>/<name>", 100,
                                       in_table=False)]
    problems = _problem_rows(report, max_rows)
    if report["status"] == UNKNOWN:
        out += problems  # what blocks the check comes before what it found
    resources = report.get("resources") or []
    if resources:
        at = f" at `{short}`" if commit else ""
        out += ["", f"**What differs** (desired → live), worst first, with where Git defines it{at}:", ""]
        ordered = worst_first(resources)
        for r in ordered[:max_rows]:
            severity = SEVERITY_BADGE.get(r.get("severity")) or md_text(r.get("severity"), 10)
            where = desired_location(r, commit, links, in_table=False)
            # Short lines: Dagster shows metadata markdown unwrapped, so a long line runs off the panel.
            out.append(f"- {severity} {md_text(r.get('kind'), 40)} {md_code(r.get('name'), 60, in_table=False)} "
                       f"({md_text(r.get('state'), 10)})")
            if where != "—":
                out.append(f"  - in Git {where}")
            out += [f"  - {line}" for line in change_lines(r, in_table=False)]
        more = max(len(ordered) - max_rows, 0) + int(report.get("resources_omitted") or 0)
        if more > 0:
            out.append(f"\n… {more} more drifted resources in the report JSON.")
    if report["status"] != UNKNOWN:
        out += problems
    return "\n".join(out)


def fleet_markdown(rows: Iterable[dict[str, Any]], max_rows: int = 50) -> str:
    """The fleet in one glance: how many fabrics are in each state, then the ones needing a look first."""
    rows = list(rows)
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in STATUS_RANK}
    parts = [f"{counts[s]} {STATUS_BADGE[s].split(' ', 1)[1]}" for s in (DRIFTED, UNKNOWN, PENDING, IN_SYNC_STATUS)
             if counts[s]]
    out = [f"### Fleet: {len(rows)} fabric{'s' if len(rows) != 1 else ''} · " + (", ".join(parts) or "none yet")]
    flagged = [r for r in rows if r.get("isolated")]
    stale = [r for r in rows if r.get("fresh") is False]
    notes = []
    if flagged:
        notes.append("isolated: " + ", ".join(md_code(r["fabric"], 63, in_table=False) for r in flagged))
    if stale:
        notes.append("report older than 3 cycles: " + ", ".join(md_code(r["fabric"], 63, in_table=False)
                                                                  for r in stale))
    if notes:
        out += ["", " · ".join(notes)]
    if rows:
        out += ["", "| fabric | status | severity | health | priority | drift since |", "|---|---|---|---|---|---|"]
        for r in worst_fabrics_first(rows)[:max_rows]:
            health = "—" if r.get("health") is None else f"{r['health']:.2f}"
            severity = r.get("severity") or NONE
            out.append(f"| {md_code(r['fabric'], 63)} | {STATUS_BADGE.get(r['status']) or md_text(r['status'], 20)} | "
                       f"{SEVERITY_BADGE.get(severity) or md_text(severity, 10)} | {health} | "
                       f"{md_text(r.get('priority') or '—', 20)} | {md_text(r.get('drift_since') or '—', 30)} |")
        if len(rows) > max_rows:
            out.append(f"\n… {len(rows) - max_rows} more fabrics in the table.")
    return "\n".join(out)


def worst_fabrics_first(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unknown before drifted before the rest; then by severity, then the least healthy."""
    return sorted(rows, key=lambda r: (-STATUS_RANK.get(r["status"], 0),
                                       -SEVERITY_RANK.get(r.get("severity") or NONE, 0),
                                       r["health"] if r.get("health") is not None else 1.0, r["fabric"]))


def report_table(report: DriftReport | dict[str, Any]) -> str:
    """Plain-text table for terminals and CI logs, like `kubectl diff` but per resource, with where each
    resource is in Git; every text from Git or a cluster has its control characters shown as escapes."""
    report = as_report_json(report)
    s = report["summary"]
    git, cluster = report.get("git") or {}, report.get("cluster") or {}
    since = f", drifted since {visible(report['drift_since'], 30)}" if report.get("drift_since") else ""
    lines = [f"fabric {visible(report['fabric'], 63)}: {visible(report['status'], 20)} "
             f"(severity {visible(report['severity'], 10)}, score {report['score']}{since})",
             f"  git {visible(str(git.get('commit') or 'unread')[:12])} ({visible(git.get('ref'), 60)})"
             + (f" {visible(git['url'], 120)}" if git.get("url") else "")
             + f", cluster {visible(cluster.get('server') or 'unread', 120)}",
             f"  in_sync {s['in_sync']}  modified {s['modified']}  missing {s['missing']}  extra {s['extra']}"]
    rows = [("SEVERITY", "STATE", "KIND", "NAME", "IN GIT", "CHANGE")]
    for r in worst_first(report.get("resources") or []):
        for i, line in enumerate(terminal_change_lines(r)):
            rows.append((visible(r.get("severity"), 10), visible(r.get("state"), 10), visible(r.get("kind"), 40),
                         visible(r.get("name"), 80), visible(r.get("source") or "—", 80), line) if i == 0
                        else ("", "", "", "", "", line))
    if len(rows) > 1:
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines.append("")
        for row in rows:
            lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(row[:5])) + "  " + row[5])
    if report.get("resources_omitted"):
        lines.append(f"… {report['resources_omitted']} more drifted resources in the report JSON")
    for e in report.get("errors") or []:
        lines.append(f"error: {visible(e.get('source'), 120)}: {visible(e.get('message'), 1000)}")
    for e in report.get("warnings") or []:
        lines.append(f"warning: {visible(e.get('source'), 120)}: {visible(e.get('message'), 1000)}")
    return "\n".join(lines)
