"""Views of the known issues replayed (`evidence.replays`): replays × Lightning releases.

Rendered from the release files present (``evidence/recorded/replays/``); a release without one
is named as such, and a file recorded before a replay last changed says so. The verdicts, their
changes across releases and the staleness are computed by `evidence.replays`; these only render.
"""

from __future__ import annotations

import html
import json
import re

from evidence import replays as rp
from evidence.matrix import VERSIONS
from evidence.programs import PROJECT_DIR
from evidence.views import Code, Em, Html, Joined, Lines, Link, Strong, admonition, inline, number, table

PAGE = "generated/explained/04_known_issues/plot_known_issues/"
"""Where the page is published (topic pages link to its replays)."""

COMMAND = "tools/version_matrix.py --replays-only --all"


def anchor(name: str, version: str | None = None) -> str:
    """The id of a replay's detail (``r-<name>``) or of one release's run of it."""
    return f"r-{name}" + (f"-{version.replace('.', '-')}" if version else "")


def topic_page(topic: str) -> str | None:
    """The published path of ``topic``'s page (``topics/NN_<topic>/plot_<topic>/``), relative to
    ``generated/``; None when it has none."""
    found = sorted((PROJECT_DIR / "gallery" / "topics").glob(f"*_{topic}/plot_{topic}.py"))
    return f"topics/{found[0].parent.name}/plot_{topic}/" if found else None


def _verdict(verdict: str):
    if verdict in (rp.REPRODUCES, rp.DOCUMENTED, rp.FAILED):
        return Strong(verdict)
    if verdict in (rp.NOT_APPLICABLE, rp.NOT_RUN):
        return Em(verdict)
    return verdict


def _groups(verdicts: dict[str, str]) -> str:
    """``works on 2.0.9–2.4.0; not applicable on 2.5.5``: neighbouring releases with one verdict."""
    groups: list[tuple[str, list[str]]] = []
    for version, verdict in verdicts.items():
        if groups and groups[-1][0] == verdict:
            groups[-1][1].append(version)
        else:
            groups.append((verdict, [version]))
    return "; ".join(f"{v} on {vs[0]}" + (f"–{vs[-1]}" if len(vs) > 1 else "") for v, vs in groups)


def _threads(replay: rp.Replay) -> Joined:
    return Joined([Link(f"#{n}", url) for n, url in replay.threads])


def _upstream(replay: rp.Replay) -> str:
    """``closed as of 2026-12-07: working as intended``; an outcome that repeats the state
    (``open; a fix proposed``, ``open (a PR proposes one)``) does not say it twice."""
    state, rest = replay.upstream["state"], replay.upstream["outcome"].strip()
    if rest.lower() == state:
        rest = ""
    elif rest.lower().startswith(state) and rest[len(state):].lstrip()[:1] in (";", ":", ",", "("):
        rest = rest[len(state):].lstrip(";:, ")
    said = f"{state} as of {replay.upstream['checked']}"
    return said + (f" {rest}" if rest.startswith("(") else f": {rest}" if rest else "")


def _caption(present: dict, replays: list[rp.Replay]) -> str:
    missing = [v for v in VERSIONS if v not in present]
    stale = {v: rp.stale(d, replays) for v, d in present.items()}
    stale = {v: names for v, names in stale.items() if names}
    text = ("Each replay's verdict on each Lightning release (the torch beside it in the first row); a cell links "
            "to its run below. ")
    if missing:
        text += f"No replay results yet for {', '.join(missing)}. "
    if stale:
        text += ("Replays added or changed since these files were recorded, shown as they were or not run: "
                 + "; ".join(f"{v}: {', '.join(names)}" for v, names in stale.items()) + ". ")
    return text.strip()


def no_results() -> Html:
    """What the page says when no release file is present."""
    return admonition("note", "No replay results yet",
                      ["No file under ", Code("evidence/recorded/replays/"), " yet: ", Code(f"python {COMMAND}"),
                       " runs every replay on every release of the version matrix and writes one file per release "
                       "(", Code("--version 2.3.3"), " for one release); commit them and this page shows them."])


def replays_table() -> Html:
    """Rows are replays, columns releases: each cell its verdict, linked to that run's detail; the
    first cell holds the behaviour in our words, its threads and upstream state, the topic, the
    changes across releases and the workaround with its verdicts."""
    replays = rp.discover()
    present = rp.releases()
    if not replays:
        return admonition("note", "No replays yet", ["No folder under ", Code("snippets/replays/"), " yet."])
    versions = list(present) or []
    head = [Em("torch beside it"), *(Code(present[v]["environment"].get("torch", "?")) for v in versions)]
    rows = [head]
    for row in rp.rows():
        r, cells = row["replay"], row["cells"]
        topic = topic_page(r.topic)
        behaviour = [Link(Strong(r.title), f"#{anchor(r.name)}"),
                     Joined(["thread", _threads(r), _upstream(r)], sep=" "),
                     Joined(["explained on", Link(r.topic.replace("_", " "), f"../../../{topic}") if topic
                             else Code(r.topic)], sep=" ")]
        if row["changes"]:
            behaviour.append(Strong("; ".join(c["text"] for c in row["changes"])))
        if r.workaround is None:
            behaviour.append(Em("no workaround given"))
        else:
            said = {v: c.get("workaround_verdict", rp.NOT_RUN) for v, c in cells.items()}
            behaviour.append(Joined(["workaround:", r.workaround.say, "—", Strong(_groups(said)) if said else Em("not run")],
                                    sep=" "))
        verdicts = []
        for v in versions:
            c = cells[v]
            shown = Link(_verdict(c["verdict"]), f"#{anchor(r.name, v)}") if c["verdict"] != rp.NOT_RUN else _verdict(rp.NOT_RUN)
            verdicts.append(shown if c["current"] or c["verdict"] == rp.NOT_RUN else Lines([shown, Em("replay changed since")]))
        rows.append([Lines(behaviour), *verdicts])
    return Html(table(["behaviour", *versions], rows, caption=_caption(present, replays),
                      css_class="summary-table replays", labels=True)
                + ("" if present else no_results()))


def flips() -> Html:
    """The verdicts the newest release with results changes from the release before it."""
    present = rp.releases()
    if len(present) < 2:
        return Html("")
    newest, previous = list(present)[-1], list(present)[-2]
    items, compared = [], 0
    for row in rp.rows():
        compared += all(row["cells"][v]["verdict"] != rp.NOT_RUN for v in (previous, newest))
        change = next((c for c in row["changes"] if c["since"] == newest), None)
        if change is None or row["cells"][previous]["verdict"] != change["before"]:
            continue
        r, before = row["replay"], change["before"]
        items.append("<li>" + inline([Link(r.title, f"#{anchor(r.name)}"), " (", _threads(r), "): ",
                                      Strong(change["text"]), f"; on {previous}: {before}."]) + "</li>")
    if not items:
        others = len(rp.discover()) - compared
        return admonition("info", f"Lightning {newest} changes no verdict of {previous}",
                          f"Each of the {compared} replay(s) with a verdict on both releases has the same verdict on "
                          "both." + (f" {others} replay(s) have not run on both yet." if others else ""))
    return admonition("warning", f"Lightning {newest} changes {len(items)} verdict(s)",
                      f"Compared with {previous}, the release before it:", Html("<ul>" + "".join(items) + "</ul>"))


_WARNING = re.compile(r"\b([A-Z]\w*Warning): ")
_TRACEBACK = "Traceback (most recent call last):"


def _log(text: str) -> str:
    """A program's printed tail for a ``<pre>``: each line as printed, except that a warning is shown
    as data (its class, then its message: no warning is printed on this site's pages) and so is a
    traceback's first line; newlines as character references, as on the topic pages."""
    out = []
    for line in (text.rstrip() or "(printed nothing)").splitlines():
        if line.strip() == _TRACEBACK:
            out.append(html.escape(line.replace(_TRACEBACK, "traceback, most recent call last:"), quote=False))
            continue
        match = _WARNING.search(line)
        if match:
            out.append(html.escape(line[:match.start()], quote=False) + f"<strong>{html.escape(match.group(1))}</strong>"
                       + " — " + html.escape(line[match.end():], quote=False))
        else:
            out.append(html.escape(line, quote=False))
    return "&#10;".join(out)


def _operand(check: dict, side: str):
    name, value = check[side], check.get(f"{side}_value")
    text = json.dumps(value) if not isinstance(value, float) else number(value, 8)
    if side == "b" and not check.get("b_is_key", True):
        return Code(text)
    return Joined([Code(name), Code(text if len(text) < 120 else text[:117] + "...")], sep=" = ")


def _check(check: dict | None) -> str:
    if check is None:
        return ""
    if "error" in check:
        return inline(["Check ", Em(check["say"]), ": could not be read: ", Code(check["error"])])
    value = check["value"]
    shown = number(value, 4) if isinstance(value, float) else str(value)
    return inline(["Check: ", Em(check["say"]), ". ", _operand(check, "a"), " against ", _operand(check, "b"),
                   f" ({'difference' if check['expect'] in ('less', 'greater') else 'max |difference|'} {shown}, "
                   f"tolerance {check['tolerance']:g}, expected {check['expect']}): {check['verdict']}, so the check ",
                   Strong("holds" if check["held"] else "does not hold"), "."])


def _program(name: str, record: dict | None, check: dict | None) -> str:
    if record is None:
        return ""
    status = {"ran": "ran", "raised": "raised", "crashed": "crashed", "timeout": "timed out"}[record["status"]]
    parts = [f"<p><strong>{html.escape(name)}</strong> {status} in {record['seconds']:.1f} s"]
    if record["status"] == "raised":
        parts.append(inline([" at ", Code(record.get("location", "?")), ": ", Code(record.get("error", ""))]))
    elif record["status"] != "ran":
        parts.append(inline([": ", Code(record.get("error", ""))]))
    parts.append(".</p>")
    if record["status"] == "ran":
        parts.append(f"<p>{_check(check)}</p>")
    parts.append('<p class="log-title">What it printed (the last lines):</p>'
                 f'<pre class="program-log"><code>{_log(record.get("log", ""))}</code></pre>')
    return "".join(parts)


def details() -> Html:
    """Per replay: what was reported, the mechanism, and each release's run in a fold (its
    programs' status, the check with its operands, the log tail). The log is left out of the
    search index."""
    replays = rp.discover()
    present = rp.releases()
    blocks = []
    for r in replays:
        head = (f'<h3 id="{anchor(r.name)}">{html.escape(r.title)}</h3>'
                f"<p>{inline([Strong('Reported'), ' (', _threads(r), f', {_upstream(r)}): ', r.reported])}</p>"
                f"<p>{inline([Strong('Why'), ': ', r.explains])}</p>"
                f"<p>{inline([Strong('Reproduces when'), ' ', r.reproduces.say, '.'])}"
                + (f" {inline([Strong('Workaround'), ': ', r.workaround.say, '.'])}" if r.workaround else "")
                + "</p>")
        folds = []
        for version, data in present.items():
            c = rp.cell(r, data)
            if c["verdict"] == rp.NOT_RUN:
                continue
            env = data["environment"]
            summary = inline([f"Lightning {version}: ", _verdict(c["verdict"])]
                             + ([", workaround ", _verdict(c["workaround_verdict"])] if "workaround_verdict" in c else [])
                             + [f" (torch {env.get('torch', '?')}, {c.get('date') or env.get('date', '?')})"]
                             + ([" ", Em("recorded before the replay's last change")] if not c["current"] else []))
            body = _program("replay.py", c.get("replay"), c.get("reproduces")) \
                + _program("workaround.py", c.get("workaround"), c.get("workaround_check"))
            folds.append(f'<details class="replay-run" id="{anchor(r.name, version)}"><summary>{summary}</summary>'
                         f'<section data-search-exclude="">{body}</section></details>')
        if not folds:
            folds.append(f"<p>{inline(Em('No run recorded yet.'))}</p>")
        blocks.append(head + "".join(folds))
    return Html("".join(blocks))


def topic_line(topic: str) -> Html:
    """One line for a topic page: the replays whose mechanism it explains, each with its verdicts
    across releases, linked to the page "Known issues, replayed"; nothing when it has none."""
    mine = [row for row in rp.rows() if row["replay"].topic == topic]
    if not mine:
        return Html("")
    page = "../../../" + PAGE.removeprefix("generated/")
    parts: list = [Strong("Known issues, replayed."), " "]
    for i, row in enumerate(mine):
        r = row["replay"]
        verdicts = {v: c["verdict"] for v, c in row["cells"].items()}
        parts += [("; " if i else ""), Link(r.title, f"{page}#{anchor(r.name)}"), f" (#{r.issue}): ",
                  _groups(verdicts) if verdicts else "not run yet"]
    return Html('<p class="env-stamp">' + inline(parts + ["."]) + "</p>")
