"""Views of the profiling page (``gallery/topics/16_profiling/plot_profiling.py``).

The programs return their profiles as rows (``top_ops``: operator, calls, self CPU ms;
``sections``: the ``record_function`` ranges of the plain and Fabric loops; ``hooks``: the
actions Lightning's profiler timed); these views lay them out side by side. Milliseconds are
shown as the programs rounded them (to the microsecond), not to the tables' four digits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, Lines, codes, table

if TYPE_CHECKING:
    from evidence.results import RunResult

PROFILERS = {"pytorch": ("PyTorchProfiler", "CPU ms", "Lightning actions recorded by PyTorchProfiler"),
             "simple": ("SimpleProfiler", "wall ms", "Slowest Lightning actions recorded by SimpleProfiler")}
"""Per Lightning ``profiler=`` value: its class, the clock of its times, the table's caption."""


def top_operators(result: RunResult) -> Html:
    """The operators with the most self CPU time, one row per operator, one column per program.

    Rows follow the plain loop's ranking, then the operators only another program ranks in its
    top list. A cell holds that program's calls and milliseconds, or ``–`` where the operator
    is not in its top list.

    Args:
        result: a run in which every program recorded operators with ``torch.profiler``.

    Returns:
        The table.
    """
    ops = {kind: {name: (calls, ms) for name, calls, ms in result.value(kind, "top_ops")} for kind in result.kinds()}
    names = list(dict.fromkeys(name for kind in result.kinds() for name in ops[kind]))

    def cell(kind: str, name: str) -> Lines | None:
        if name not in ops[kind]:
            return None
        calls, ms = ops[kind][name]
        return Lines([f"{calls} calls", f"{ms} ms"])

    return table(["operator"] + [LABELS[k] for k in result.kinds()],
                 [[Code(name)] + [cell(kind, name) for kind in result.kinds()] for name in names],
                 caption="Top operators by self CPU time, from each program's torch.profiler run")


def sections(result: RunResult) -> Html:
    """The ``record_function`` sections of the plain and Fabric loops: calls and CPU time.

    Args:
        result: a run whose plain and Fabric programs return ``sections`` rows.

    Returns:
        The table, one row per section in the plain loop's order.
    """
    kinds = ("pytorch", "fabric")
    found = {kind: {name: (calls, str(ms)) for name, calls, ms in result.value(kind, "sections")} for kind in kinds}
    names = list(dict.fromkeys(name for kind in kinds for name in found[kind]))
    rows = [[Code(name)] + [v for kind in kinds for v in found[kind].get(name, (None, None))] for name in names]
    return table(["section"] + [f"{LABELS[k]} {what}" for k in kinds for what in ("calls", "CPU ms")], rows,
                 caption="record_function sections of the plain and Fabric loops")


def lightning_actions(result: RunResult) -> Html:
    """The Lightning actions its profiler timed, slowest first, with calls and milliseconds.

    The clock (CPU time under ``profiler="pytorch"``, wall time under ``profiler="simple"``)
    and the caption follow the profiler the Lightning program ran with.

    Args:
        result: a run whose Lightning program returns ``hooks`` rows.

    Returns:
        The table.
    """
    _, clock, caption = PROFILERS[result.value("lightning", "profiler")]
    return table(["Lightning action", "calls", clock],
                 [[Code(name), calls, str(ms)] for name, calls, ms in result.value("lightning", "hooks")],
                 caption=caption)


def report_files(*results: RunResult) -> Html:
    """The files Lightning's profiler wrote into its temporary folder, one row per run.

    Args:
        *results: runs of the Lightning program, each with another ``profiler=``.

    Returns:
        The table.
    """
    return table(["profiler", "files written"],
                 [[r.value("lightning", "profiler"), codes(r.value("lightning", "report_files"))] for r in results])
