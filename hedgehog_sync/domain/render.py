"""A drift report as text a person reads in five seconds: markdown for the UI, a table for terminals."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import quote, urlsplit

from hedgehog_sync.domain.diff import SEVERITY_RANK

# Symbols common fonts have: colour emoji are empty boxes where no emoji font is installed.
STATUS_BADGE = {"in_sync": "✔ in sync", "drifted": "⚠ drifted", "unknown": "⊘ unknown",
                "pending": "… not checked yet"}
SEVERITY_BADGE = {"critical": "**critical**", "high": "high", "medium": "medium", "low": "low", "none": "none"}
STATUS_RANK = {"unknown": 3, "drifted": 2, "pending": 1, "in_sync": 0}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


@dataclass(frozen=True)
class SourceLinks:
    """Where a person looks at each side of a fabric: its Git repository and its kubectl context.

    Comes from the fabric's inventory entry; the report itself carries neither (URLs may be private).
    """

    git_url: str | None = None
    git_path: str = ""  # the fabric's folder in the repository; report sources are relative to it
    kube_context: str | None = None


def _value(v: Any, width: int = 40) -> str:
    text = json.dumps(v, sort_keys=True, default=str) if not isinstance(v, str) else v
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _text(v: Any, width: int = 80) -> str:
    """Free text from Git (a commit message, an author) as inert markdown: no links, tags or tables."""
    text = " ".join(str(v).split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def worst_first(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(resources, key=lambda r: (-SEVERITY_RANK.get(r["severity"], 0), r["kind"], r["name"]))


def change_lines(resource: dict[str, Any], limit: int = 3) -> list[str]:
    if resource["state"] != "modified":
        return ["in Git, not in the cluster" if resource["state"] == "missing"
                else "in the cluster, not in Git"]
    lines = []
    for c in resource["changes"][:limit]:
        lines.append(f"{c['op']} `{c['path']}`: {_value(c.get('desired'))} → {_value(c.get('actual'))}")
    if len(resource["changes"]) > limit:
        lines.append(f"… and {len(resource['changes']) - limit} more")
    return lines


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


def desired_location(resource: dict[str, Any], commit: str | None, links: SourceLinks | None) -> str:
    """`file#document` in Git, linked to the file at the report's commit when the host allows."""
    source = resource.get("source")
    if not source:
        return "—"
    path, _, document = source.rpartition("#")
    path = path or source
    label = f"`{_value(source, 60)}`"
    links = links or SourceLinks()
    full_path = f"{links.git_path.strip('/')}/{path}" if links.git_path.strip("/") else path
    url = git_file_url(links.git_url, commit, full_path)
    return f"[{label}]({url})" if url else label


def _headline(report: dict[str, Any]) -> str:
    status, summary = report["status"], report["summary"]
    differ = summary["modified"] + summary["missing"] + summary["extra"]
    if status == "in_sync":
        detail = f"{summary['in_sync']} resources match Git"
    elif status == "drifted":
        detail = f"{differ} resource{'s differ' if differ != 1 else ' differs'} from Git"
    else:
        detail = "could not check everything; fix what is listed first"
    return f"### {STATUS_BADGE.get(status, status)} · {report['fabric']}: {detail}"


def _problem_rows(report: dict[str, Any], max_rows: int) -> list[str]:
    problems = report.get("errors", []) + report.get("warnings", [])
    if not problems:
        return []
    out = ["", "**Problems** (a fabric with errors is never reported in sync)", "",
           "| level | where | problem |", "|---|---|---|"]
    for e in problems[:max_rows]:
        where = e["source"] + (f" (document {e['document']})" if e.get("document") else "")
        out.append(f"| {e['level']} | `{_value(where, 60)}` | {_value(e['message'], 160)} |")
    if len(problems) > max_rows:
        out.append(f"\n… {len(problems) - max_rows} more in the report JSON.")
    return out


def report_markdown(report: dict[str, Any], max_rows: int = 20, *, links: SourceLinks | None = None) -> str:
    """Status and counts, where both sides stand (commit and message; server and kubectl context),
    then the worst drift first, each resource with its place in Git (file#document at the commit)."""
    git, cluster, summary = report["git"], report["cluster"], report["summary"]
    facts = [f"severity **{report['severity']}**",
             f"score **{report['score']}**"]
    if report.get("drift_since"):
        facts.append(f"drifted since {report['drift_since']}")
    out = [_headline(report), "", " · ".join(facts), "",
           "| modified | missing | extra | in sync |", "|---|---|---|---|",
           f"| {summary['modified']} | {summary['missing']} | {summary['extra']} | {summary['in_sync']} |", ""]
    commit = git.get("commit")
    desired = f"**Desired** · Git `{(commit or '')[:12] or 'unread'}` on `{git.get('ref')}`"
    if git.get("message"):
        desired += f": *{_text(git['message'])}*"
        if git.get("author"):
            desired += f" by {_text(git['author'], 40)}"
    if git.get("resources") is not None:
        desired += f" · {git['resources']} resources"
    live = f"**Live** · `{cluster.get('server') or 'unread'}`"
    if cluster.get("resources") is not None:
        live += f" · {cluster['resources']} resources"
    if links and links.kube_context:
        live += f" · `kubectl --context {links.kube_context} get <kind>/<name>`"
    out += [desired, "", live]
    problems = _problem_rows(report, max_rows)
    if report["status"] == "unknown":
        out += problems  # what blocks the check comes before what it found
    if report["resources"]:
        at = f" @ `{commit[:12]}`" if commit else ""
        out += ["", "| severity | resource | what differs (desired → live) | in Git" + at + " |", "|---|---|---|---|"]
        ordered = worst_first(report["resources"])
        for r in ordered[:max_rows]:
            out.append(f"| {SEVERITY_BADGE.get(r['severity'], r['severity'])} | {r['kind']} `{r['name']}` "
                       f"({r['state']}) | " + "<br>".join(change_lines(r)) + f" | {desired_location(r, commit, links)} |")
        if len(ordered) > max_rows:
            out.append(f"\n… {len(ordered) - max_rows} more drifted resources in the report JSON.")
    if report["status"] != "unknown":
        out += problems
    return "\n".join(out)


def fleet_markdown(rows: Iterable[dict[str, Any]], max_rows: int = 50) -> str:
    """The fleet in one glance: how many fabrics are in each state, then the ones needing a look first."""
    rows = list(rows)
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in STATUS_RANK}
    parts = [f"{counts[s]} {STATUS_BADGE[s].split(' ', 1)[1]}" for s in ("drifted", "unknown", "pending", "in_sync")
             if counts[s]]
    out = [f"### Fleet: {len(rows)} fabric{'s' if len(rows) != 1 else ''} · " + (", ".join(parts) or "none yet")]
    flagged = [r for r in rows if r.get("isolated")]
    stale = [r for r in rows if r.get("fresh") is False]
    notes = []
    if flagged:
        notes.append("isolated: " + ", ".join(f"`{r['fabric']}`" for r in flagged))
    if stale:
        notes.append("report older than 3 cycles: " + ", ".join(f"`{r['fabric']}`" for r in stale))
    if notes:
        out += ["", " · ".join(notes)]
    if rows:
        out += ["", "| fabric | status | severity | health | priority | drift since |", "|---|---|---|---|---|---|"]
        for r in worst_fabrics_first(rows)[:max_rows]:
            health = "—" if r.get("health") is None else f"{r['health']:.2f}"
            out.append(f"| `{r['fabric']}` | {STATUS_BADGE.get(r['status'], r['status'])} | "
                       f"{SEVERITY_BADGE.get(r.get('severity') or 'none', r.get('severity'))} | {health} | "
                       f"{r.get('priority') or '—'} | {r.get('drift_since') or '—'} |")
        if len(rows) > max_rows:
            out.append(f"\n… {len(rows) - max_rows} more fabrics in the table.")
    return "\n".join(out)


def worst_fabrics_first(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unknown before drifted before the rest; then by severity, then the least healthy."""
    return sorted(rows, key=lambda r: (-STATUS_RANK.get(r["status"], 0),
                                       -SEVERITY_RANK.get(r.get("severity") or "none", 0),
                                       r["health"] if r.get("health") is not None else 1.0, r["fabric"]))


def report_table(report: dict[str, Any]) -> str:
    """Plain-text table for terminals and CI logs, like `kubectl diff` but per resource."""
    s = report["summary"]
    lines = [f"fabric {report['fabric']}: {report['status']} (severity {report['severity']}, "
             f"score {report['score']})",
             f"  git {str(report['git'].get('commit') or 'unread')[:12]} ({report['git'].get('ref')}), "
             f"cluster {report['cluster'].get('server') or 'unread'}",
             f"  in_sync {s['in_sync']}  modified {s['modified']}  missing {s['missing']}  extra {s['extra']}"]
    rows = [("SEVERITY", "STATE", "KIND", "NAME", "CHANGE")]
    for r in worst_first(report["resources"]):
        for i, line in enumerate(change_lines(r, limit=50)):
            rows.append((r["severity"], r["state"], r["kind"], r["name"], line) if i == 0
                        else ("", "", "", "", line))
    if len(rows) > 1:
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines.append("")
        for row in rows:
            lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(row[:4])) + "  " + row[4])
    for e in report.get("errors", []):
        lines.append(f"error: {e['source']}: {e['message']}")
    for e in report.get("warnings", []):
        lines.append(f"warning: {e['source']}: {e['message']}")
    return "\n".join(lines)
