"""Views of the torch.compile page (``gallery/topics/17_torch_compile/plot_torch_compile.py``).

Each program trains eagerly and compiled from the same seed and returns the first and median
optimizer-step times of both (``step_timing``), the duration of its one-line compile check
(``check_s``), the steady-state speed-up and the largest difference between its compiled and
eager weights (``compiled_vs_eager``). These views put them side by side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, admonition, difference, figures, seconds, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from evidence.results import RunResult

STEPS = (("eager", "first_step_s", "eager first"), ("eager", "median_step_s", "eager median"),
         ("compiled", "first_step_s", "compiled first"), ("compiled", "median_step_s", "compiled median"))
"""The four step times of each program: (mode, key in ``step_timing``, label)."""


def verdict(value: float, tolerance: float) -> str:
    """``identical`` at 0, ``close`` within ``tolerance``, else ``differs`` (the parity words).

    Args:
        value: a max |difference|.
        tolerance: the largest difference still called close.

    Returns:
        The verdict.
    """
    return "identical" if value == 0 else ("close" if value <= tolerance else "differs")


def step_table(result: RunResult) -> Html:
    """Compiled against eager inside each program: step times, speed-up, weight difference.

    The weight difference is judged against the run's declared tolerance (``runs.toml``).

    Args:
        result: the run.

    Returns:
        The table, one row per implementation.
    """
    rows = []
    for kind in result.kinds():
        timing = result.value(kind, "step_timing")
        compiled = result.value(kind, "compiled") or "no: " + result.value(kind, "compile_note")
        gap = result.value(kind, "compiled_vs_eager")
        rows.append([LABELS[kind], compiled, seconds(result.value(kind, "check_s")),
                     *(seconds(timing[mode][key]) for mode, key, _ in STEPS),
                     f"x{result.value(kind, 'speedup'):.2f}",
                     f"{difference(gap)} ({verdict(gap, result.run.tolerance)})"])
    return table(["implementation", "compiled", "compile check", "eager: first step", "eager: median step",
                  "compiled: first step", "compiled: median step", "steady-state speed-up",
                  "max |compiled - eager| weights"], rows,
                 caption="Step times from the logged run (one thread), which is not serialised: in a parallel "
                         "build other topics may run at the same time and slow single steps. The compile check "
                         "is the program's one-line test compile, which also loads the compiler stack.")


def step_figure(result: RunResult) -> Figure:
    """Bars of the first and median step, eager and compiled, per implementation (log scale).

    Args:
        result: the run.

    Returns:
        The matplotlib figure.
    """
    fig, (ax,) = figures.panels(1, width=8, height=3.8)
    kinds = result.kinds()
    width = 0.8 / len(kinds)
    for i, kind in enumerate(kinds):
        timing = result.value(kind, "step_timing")
        offset = (i - (len(kinds) - 1) / 2) * width
        ax.bar([x + offset for x in range(len(STEPS))], [1000 * timing[mode][key] for mode, key, _ in STEPS],
               width, label=LABELS[kind], color=figures.style(kind)["color"])
    ax.set_xticks(range(len(STEPS)), [label for _, _, label in STEPS])
    ax.grid(False, axis="x")
    figures.finish(ax, ylabel="milliseconds", logy=True)
    fig.suptitle("torch_compile: first and median optimizer step, eager and compiled")
    fig.tight_layout()
    return fig


def speedup_note(result: RunResult) -> Html:
    """The pitfall "a tiny model need not get faster", with this build's speed-ups.

    Args:
        result: the run.

    Returns:
        A warning admonition stating each program's steady-state speed-up and whether the
        compiled median step was faster or slower than the eager one.
    """
    speedups = {kind: result.value(kind, "speedup") for kind in result.kinds() if result.value(kind, "compiled")}
    slower = [LABELS[k] for k, v in speedups.items() if v < 1]
    faster = [LABELS[k] for k, v in speedups.items() if v >= 1]
    measured = ", ".join(f"x{v:.2f} ({LABELS[k]})" for k, v in speedups.items())
    if not speedups:
        verdict = "Compilation did not work on this machine, so nothing was compiled in this build."
    elif not faster:
        verdict = f"In this build the compiled median step was slower than the eager one in every program: {measured}."
    elif not slower:
        verdict = f"In this build the compiled median step was faster than the eager one in every program: {measured}."
    else:
        verdict = (f"In this build the compiled median step was slower than the eager one in {' and '.join(slower)} "
                   f"and faster in {' and '.join(faster)} (speed-ups {measured}): single steps this short are "
                   f"sensitive to whatever else runs on the machine.")
    return admonition("warning", "A tiny model need not get faster",
                      "Compilation removes Python overhead and fuses element-wise operations. A two-layer network "
                      "of a few hundred parameters has almost nothing to fuse, so the compiled step can be slower "
                      "than the eager one. " + verdict,
                      ["Measure on your own model, on your own device, before keeping ", Code("torch.compile"),
                       " in a training script."])
