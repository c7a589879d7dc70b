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
