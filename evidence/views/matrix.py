"""Views of the version matrix (`evidence.matrix`): topics × Lightning versions.

Rendered from the shard files present; a version without one is named as such. A cell links to
its detail (the error, the first divergence, the declared checks, the warnings) and names the
declared checks that do not hold on its version; where a cell changes between two neighbouring
versions, `changes` says what changed and since which version.
"""

from __future__ import annotations

import html
import posixpath

from evidence import matrix
from evidence import replays as rp
from evidence.programs import topics
from evidence.views import replays as replay_views
from evidence.views import Code, Em, Html, Joined, Lines, Link, Strong, admonition, difference, inline, table

PAGE = "generated/explained/02_version_matrix/plot_version_matrix/"
"""Where the matrix page is published (topic pages link to their row)."""


def _anchor(topic: str, version: str | None = None) -> str:
    return f"m-{topic}" + (f"-{version.replace('.', '-')}" if version else "")


def _not_held(cell: dict) -> list[str]:
    """The names of the cell's declared checks that did not come out as declared."""
    return [c["name"] for c in cell.get("declared", []) if not c["expected"]]


def _label(cell: dict) -> str:
    """A cell's verdict, with the declared checks that do not hold on its version."""
    missed = _not_held(cell)
    return cell["status"] + (f"; not as declared: {', '.join(missed)}" if missed else "")


def _cell(topic: str, version: str, shard: dict | None):
    if shard is None:
        return Em("no shard")
    cell = shard["topics"].get(topic)
    if cell is None:
        return Em("not run")
    missed = len(_not_held(cell))
    text = cell["status"] + (f", {missed} check{'s' if missed > 1 else ''} otherwise" if missed else "")
    return Link(Strong(text) if cell["status"] in ("failed", "differs") or missed else text,
                "#" + _anchor(topic, version))


def matrix_table() -> Html:
    """Rows are topics, columns Lightning versions; each cell its verdict, linked to its detail."""
    shards = matrix.shards()
    versions = list(matrix.VERSIONS)
    rows = [[Em("torch beside it"), *(Code(shards[v]["environment"]["torch"]) if v in shards else "–"
                                      for v in versions)]]
    for topic in topics():
        rows.append([Link(Code(topic), f"#{_anchor(topic)}"), *(_cell(topic, v, shards.get(v)) for v in versions)])
    stale = [v for v, shard in shards.items() if not matrix.current(shard)]
    caption = ("Each topic's headline run, Lightning and Fabric programs against plain PyTorch, on each Lightning "
               "version. " + (f"No shard results yet for {', '.join(matrix.missing())}. " if matrix.missing() else "")
               + (f"Programs changed since the shards of {', '.join(stale)} ran: they show the programs as they were. "
                  if stale else ""))
    out = table(["topic", *versions], rows, caption=caption.strip(), css_class="matrix")
    # the row anchors: an id per topic on its first cell's row
    for topic in topics():
        out = Html(out.replace(f'<td><a href="#{_anchor(topic)}">', f'<td id="{_anchor(topic)}"><a href="#{_anchor(topic)}">', 1))
    return out


def _summary(cell: dict) -> str:
    if cell["status"] == "failed":
        return f"failed ({cell.get('error', '')})"
    first = cell.get("first_divergence")
    if cell["status"] in ("identical", "close", "differs"):
        text = f"{cell['status']} ({difference(cell['value'])})"
        if first:
            text += f", parts at step {first['step']}"
    else:
        text = cell["status"]
    missed = _not_held(cell)
    return text + (f"; not as declared: {', '.join(missed)}" if missed else "")


def changes() -> Html:
    """Every change of a cell between neighbouring versions: what changed, and since which version."""
    shards = matrix.shards()
    versions = [v for v in matrix.VERSIONS if v in shards]
    if len(versions) < 2:
        return admonition("note", "Not enough versions with results", "Changes between versions need the results of "
                          "at least two neighbouring versions.")
    replayed = rp.rows()
    items = []
    for topic in topics():
        for before, after in zip(versions, versions[1:]):
            a, b = shards[before]["topics"].get(topic), shards[after]["topics"].get(topic)
            if a is None or b is None or _summary(a).split(",")[0] == _summary(b).split(",")[0] and \
                    a["status"] == b["status"] and a.get("error") == b.get("error") and _not_held(a) == _not_held(b):
                continue
            items.append(f"<li>{inline([Code(topic), f': since Lightning {after}, ', Strong(_summary(b)), f'; up to {before}: {_summary(a)}.'] + _replays_changing(replayed, topic, before, after))}</li>")
    if not items:
        return admonition("note", "No cell changes between neighbouring versions", "Every topic gives the same verdict "
                          "on every version with results.")
    return Html("<ul>" + "".join(items) + "</ul>")


def _replays_changing(replayed: list[dict], topic: str, before: str, after: str) -> list:
    """The replays of ``topic`` (page "Known issues, replayed") whose verdict changes between the
    same two releases (`evidence.replays.changes`): executed behaviour that changed with the cell,
    named with its thread."""
    page = posixpath.relpath(replay_views.PAGE, PAGE) + "/"
    parts: list = []
    for row in replayed:
        r = row["replay"]
        for change in row["changes"]:
            if r.topic == topic and change["since"] == after and before in row["cells"]:
                parts += [" Replayed on the same releases, ", Link(r.title, f"{page}#{replay_views.anchor(r.name)}"),
                          f" (#{r.issue}) changes there too: {change['before']} up to {before}, "
                          f"{change['after']} since {after}."]
    return parts


def details() -> Html:
    """Per version, every topic's detail: the error, the checks, the first divergence, the warnings."""
    shards = matrix.shards()
    blocks = []
    for version, shard in shards.items():
        env = shard["environment"]
        rows = []
        for topic in topics():
            cell = shard["topics"].get(topic)
            if cell is None:
                continue
            if cell["status"] == "failed":
                detail = Lines([Code(cell.get("location", "")), Code(cell.get("error", ""))])
            else:
                lines = [f"{c['pair'][1]} vs {c['pair'][0]}, {c['metric']}: {c['verdict']} ({difference(c['value'])})"
                         for c in cell.get("checks", [])]
                lines += [f"{c['name']}: {c['verdict']}"
                          + (f" ({difference(c['value'])})" if c["value"] is not None else "")
                          + ("" if c["expected"] else f", declared {c['expect']}") for c in cell.get("declared", [])]
                first = cell.get("first_divergence")
                if cell.get("ledger_steps"):
                    lines.append(f"ledger: identical at all {cell['ledger_steps']} steps" if first is None else
                                 f"ledger: parts at step {first['step']} ({first['tensor']}, {difference(first['value'])})")
                detail = Lines(lines)
            warnings = [w for impl in cell.get("implementations", {}).values() for w in impl.get("warnings", [])]
            steps = ", ".join(f"{k} {i['per_step_ms']:.3g} ms" for k, i in cell.get("implementations", {}).items()
                              if i.get("per_step_ms"))
            # a warning as data: its class, then its message (not a warning printed on this page)
            printed = [Joined([Code(w.split(": ", 1)[0]), w.split(": ", 1)[-1]], sep=" — ") for w in dict.fromkeys(warnings)]
            rows.append([Code(topic), cell["status"], detail, Lines(printed) if printed else "none",
                         steps or "–"])
        tab = table(["topic", "verdict", "detail", "warnings printed", "time per step"], rows,
                    caption=f"pytorch_lightning {version} (lightning_fabric {env.get('lightning_fabric', '?')}), torch "
                            f"{env.get('torch', '?')}, {env.get('device', '?')} ({env.get('device_name', '?')}), "
                            f"{env.get('date', '?')}; from {shard['file']}"
                            + ("." if matrix.current(shard) else "; the programs changed since it ran."))
        for topic in topics():
            tab = Html(tab.replace(f"<tr><td><code>{html.escape(topic)}</code>",
                                   f'<tr id="{_anchor(topic, version)}"><td><code>{html.escape(topic)}</code>', 1))
        blocks.append(f"<h3 id=\"lightning-{version.replace('.', '-')}\">Lightning {html.escape(version)}</h3>" + tab)
    missing = matrix.missing()
    if missing:
        blocks.append(str(admonition("note", "Versions without results yet", f"No shard file for {', '.join(missing)}: "
                                     "tools/version_matrix.py --version <v> runs one.")))
    return Html("".join(blocks))


def topic_row(topic: str) -> Html:
    """One line for a topic page: its verdicts across versions, linking to its matrix row."""
    shards = matrix.shards()
    if not shards:
        return Html("")
    groups: list[tuple[str, list[str]]] = []
    for version, shard in shards.items():
        cell = shard["topics"].get(topic)
        status = _label(cell) if cell else "not run"
        if groups and groups[-1][0] == status:
            groups[-1][1].append(version)
        else:
            groups.append((status, [version]))
    text = "; ".join(f"{status} on {vs[0]}" + (f"–{vs[-1]}" if len(vs) > 1 else "") for status, vs in groups)
    missing = matrix.missing()
    link = "../../../" + PAGE.removeprefix("generated/") + "#" + _anchor(topic)
    stale = [v for v, shard in shards.items() if not matrix.current(shard)]
    older = (f" Recorded with the programs as they were before their last change ({', '.join(stale)}): "
             "the current programs have not run on those versions yet." if stale else "")
    return Html('<p class="env-stamp">' + inline([Strong("Across Lightning versions."), f" {text}"
                + (f" (no results for {', '.join(missing)})" if missing else "") + "." + older + " ",
                Link("The version matrix", link), " has the details."]) + "</p>")
