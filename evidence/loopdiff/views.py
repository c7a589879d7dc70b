"""Views of the page *Diff your own loops*: the commands its runs executed, and what they printed.

A page does::

    from evidence.loopdiff import views as loopdiff

    runs = loopdiff.load("loopdiff")
    runs["identical"].session()     # the three commands and their output, as a terminal shows them
    runs["identical"].conclusion()     # the diff's verdict in a box
"""

from __future__ import annotations

from evidence import results
from evidence.views import Code, Html, admonition, difference
from evidence.views.code import highlighted
from evidence.views.topic import ShownResult, ShownRuns

PROMPT = "$ "
"""What the sessions put before a command."""


class LoopDiffRun(ShownResult):
    """One run of ``evidence/loopdiff/runs.toml``: two recordings and their diff (`evidence.loopdiff.worker`)."""

    def session_text(self) -> str:
        """The run's commands and their output as a terminal shows them, the scripts' own output left out."""
        lines = []
        for record in self["records"]:
            lines.append(PROMPT + record["command"])
            if record["script_lines"]:
                lines.append(f"[the script's own output: {record['script_lines']} line(s), left out here]")
            lines.append(record["loopdiff_output"])
        diff = self["diff"]
        lines += [PROMPT + diff["command"], diff["output"].rstrip("\n"), PROMPT + "echo $?", str(diff["exit_code"])]
        return "\n".join(lines)

    def session(self) -> Html:
        """`session_text`, highlighted as a console session."""
        return highlighted(self.session_text(), "console")

    def conclusion(self) -> Html:
        """The diff's verdict: identical at every step, or the step where the runs part, the
        parameter that differs most there and by how much."""
        summary, code = self["diff"]["summary"], self["diff"]["exit_code"]
        parted = summary["parted"]
        if parted is None:
            return admonition("success", f"Identical at every one of {summary['steps'][0]} optimizer steps "
                                         f"(exit code {code})",
                              ["Parameters matched ", summary["matched"][0], "; the rows marked ", Code("!"),
                               " are calls one program makes and the other does not, none of which changed the "
                               "parameters."])
        return admonition("info", f"They part at optimizer step {parted['step']} of {max(summary['steps'])} "
                                  f"(exit code {code})",
                          ["The parameter that differs most after that step is ", Code(parted["tensor"]),
                           f", by {difference(parted['value'])}. Parameters matched {summary['matched'][0]}."])


def load(topic: str) -> ShownRuns:
    """The declared runs of ``topic`` (``"loopdiff"``) with their views: ``load("loopdiff")["scheduler"].session()``."""
    return results.load(topic, LoopDiffRun, ShownRuns)
