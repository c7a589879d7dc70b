"""Views of the profiling page (``gallery/topics/16_profiling/plot_profiling.py``).

The programs return their profiles as rows (``top_ops``: operator, calls, self CPU ms;
``sections``: the ``record_function`` ranges of the plain and Fabric loops; ``hooks``: the
actions Lightning's profiler timed); these views lay them out side by side. Milliseconds are
shown as the programs rounded them (to the microsecond), not to the tables' four digits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, Lines, admonition, codes, table

if TYPE_CHECKING:
    from evidence.results import RunResult

PROFILERS = {"pytorch": ("PyTorchProfiler", "CPU ms", "Lightning actions recorded by PyTorchProfiler"),
             "simple": ("SimpleProfiler", "wall ms", "Slowest Lightning actions recorded by SimpleProfiler")}
"""Per Lightning ``profiler=`` value: its class, the clock of its times, the table's caption."""


def profiler_name(result: RunResult, kind: str) -> str:
    """The profiler one program ran with: ``torch.profiler``, or the class Lightning was given.

    Args:
        result: a run of the profiling programs.
        kind: an implementation kind.

    Returns:
        The profiler's name as the reader would write it in code.
    """
    name = result.value(kind, "profiler")
    return f"Trainer(profiler={PROFILERS[name][0]}(...))" if kind == "lightning" else name


def profilers_used(*results: RunResult) -> Html:
    """Which profiler each program ran with in each run, and whether the run was timed.

    Args:
        *results: runs of the profiling programs.

    Returns:
        The table, one row per run.
    """
    kinds = results[0].kinds()
    rows = [[Code(r.run.name), r.run.repeats or "untimed"] + [Code(profiler_name(r, kind)) for kind in kinds]
            for r in results]
    return table(["run", "timed rounds"] + [LABELS[k] for k in kinds], rows,
                 caption="The profiler behind every number on this page, per run and program")


def missed_first_step(result: RunResult) -> Html:
    """The pitfall of ``PyTorchProfiler``: what its profile lacks against the plain loop's.

    The counts come from the run itself: the ``aten::select`` and ``aten::addmm`` calls the
    plain loop recorded and Lightning's profile did not, and how often Lightning's profile saw
    ``run_training_batch`` and ``run_training_epoch`` against the steps and epochs the run did.
    ``tests/test_profiling`` pins where the differences come from at the run's configuration.

    Args:
        result: a run in which the Lightning program used ``profiler="pytorch"``.

    Returns:
        A warning admonition.
    """
    plain, lightning = result.value("pytorch", "op_counts"), result.value("lightning", "op_counts")
    fewer = {op: plain[op] - lightning[op] for op in ("aten::select", "aten::addmm")}
    hooks = {name: calls for name, calls, _ in result.value("lightning", "hooks")}
    epochs, steps = len(result.value("lightning", "history.train_loss")), result.value("lightning", "steps")
    return admonition(
        "warning", ["...and never the first training step"],
        ["Even with that schedule, Lightning's schedule wrapper returns \"no recording\" until the first step "
         "method (", Code("training_step"), ", ", Code("validation_step"), ", ...) has finished. With the sanity "
         "check off, as here, that is the first ", Code("training_step"), ", so everything before that moment is "
         "missing: the first batch's collation and forward pass (in this build's profile ",
         str(fewer["aten::select"]), " ", Code("aten::select"), " and ", str(fewer["aten::addmm"]), " ",
         Code("aten::addmm"), " fewer than the plain loop's) and the ranges opened before it: ",
         Code("run_training_batch"), f" was recorded for {hooks.get('run_training_batch', 0)} of the {steps} "
         "training steps, ", Code("run_training_epoch"), f" for {hooks.get('run_training_epoch', 0)} of the "
         f"{epochs} epochs. The first backward pass, which runs later inside the optimizer-step closure, is "
         "recorded."])


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
