"""The declared checks of a topic as a page shows them: the sentence, the number, the verdict.

Every row is one check `evidence.checks` evaluated: within a run (an implementation against
plain PyTorch, on the paths the run's ``compare`` lists) or declared in ``[[checks]]`` (across
runs, or against a value). A check whose verdict is not the one declared is marked: the page
then says something the build did not find, and the build log warns.
"""

from __future__ import annotations

from evidence.programs import LABELS
from evidence.views import Code, Html, Strong, admonition, difference, number, table

READING = ("How to read a verdict: <em>identical</em> means a largest absolute difference of exactly 0 "
           "(bitwise the same); <em>close</em>, at most the stated tolerance; <em>differs</em>, above it. "
           "<em>less</em> and <em>greater</em> compare two numbers. Every check is declared in the topic's "
           "<code>runs.toml</code>, evaluated after the runs and published in <code>summary.json</code>.")


def _value(check: dict) -> str:
    if check["expect"] in ("less", "greater"):
        return f"a − b = {number(check['value'])}"
    return difference(check["value"])


def checks_table(found: list[dict]) -> Html:
    """A table of evaluated checks: what is checked, the value, the tolerance, the verdict."""
    if not found:
        return admonition("note", "Checks", "This topic declares no check beyond its runs.")
    rows = []
    for c in found:
        mark = "" if c["expected"] else " ✗ not as declared"
        what = c["say"]
        if "pair" in c:
            what = [Code(c["metric"]), f": {LABELS[c['pair'][1]]} vs {LABELS[c['pair'][0]]} (run {c['run']})"]
            from evidence.views import Joined

            what = Joined(what, sep="")
        rows.append([what, _value(c), f"{c['tolerance']:g}" if c["expect"] not in ("less", "greater") else "–",
                     Strong(c["verdict"] + mark) if not c["expected"] else c["verdict"]])
    unexpected = [c for c in found if not c["expected"]]
    head = (admonition("failure", f"{len(unexpected)} of {len(found)} checks did not come out as declared",
                       "The rows marked ✗ say what this build found instead.") if unexpected else Html(""))
    return Html(head + table(["checked", "value", "tolerance", "verdict"], rows)
                + f'<p class="checks-reading">{READING}</p>')


def check_line(check: dict) -> Html:
    """One check as an admonition: its sentence, its number and its verdict."""
    kind = "success" if check["expected"] else "failure"
    return admonition(kind, [check["say"], ": ", Strong(check["verdict"])],
                      f"Value {_value(check)}"
                      + (f", tolerance {check['tolerance']:g}" if check["expect"] not in ("less", "greater") else "")
                      + ("." if check["expected"] else f"; declared: {check['expect']}."))
