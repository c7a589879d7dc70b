"""Views of the gradient-clipping page (``gallery/topics/10_grad_clipping/plot_grad_clipping.py``).

The page shows, for a run clipping by norm and a run clipping by value, the size of the
gradients each program measured before clipping at every optimizer step, against the run's
threshold, and counts the steps that clipping changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import statistics

from evidence.programs import LABELS
from evidence.results import RunResult
from evidence.views import Html, figures, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MEASURED = {"norm": ("grad_norm", "by norm: global L2 norm before clipping"),
            "value": ("grad_max", "by value: largest |element| before clipping")}
"""Per clipping algorithm: the result path of the size it is compared with, and its description."""


def algorithm(result: RunResult) -> str:
    """The run's clipping algorithm, ``"norm"`` or ``"value"``."""
    return result.data["spec"]["params"]["algorithm"]


def threshold(result: RunResult) -> float:
    """The run's clipping threshold (``max_norm`` by norm, ``clip_val`` by value)."""
    return result.data["spec"]["params"]["clip_val"]


def sizes(result: RunResult, kind: str) -> list[float]:
    """The gradient size one implementation measured before clipping, at every optimizer step.

    Args:
        result: A clipping run.
        kind: The implementation.

    Returns:
        The global L2 norm (clipping by norm) or the largest absolute element (by value).
    """
    return result.value(kind, MEASURED[algorithm(result)][0])


def sizes_figure(*runs: RunResult) -> Figure:
    """Gradient size before clipping at every step, one panel per run, with the threshold.

    Args:
        *runs: The clipping runs to draw, one panel each, in order.

    Returns:
        The matplotlib figure.
    """
    fig, axes = figures.panels(len(runs))
    for ax, run in zip(axes, runs):
        for kind in run.kinds():
            series = sizes(run, kind)
            figures.overlay(ax, kind, range(1, len(series) + 1), series, marker="")
        ax.axhline(threshold(run), color="black", linestyle=(0, (4, 3)), linewidth=1.2,
                   label=f"threshold {threshold(run):g}")
        figures.finish(ax, title=MEASURED[algorithm(run)][1], xlabel="optimizer step")
    fig.suptitle("Gradient size at every optimizer step, before clipping, three implementations overlaid")
    fig.tight_layout()
    return fig


def clipped_table(*runs: RunResult) -> Html:
    """Per run and implementation: the threshold, the median size and the steps clipping changed.

    A step counts as clipped when the size measured before clipping was above the threshold.

    Args:
        *runs: The clipping runs, in order.

    Returns:
        A table with one row per run and implementation.
    """
    rows = []
    for run in runs:
        limit = threshold(run)
        for kind in run.kinds():
            series = sizes(run, kind)
            clipped = sum(value > limit for value in series)
            rows.append([f"by {algorithm(run)}", LABELS[kind], f"{limit:g}", f"{statistics.median(series):.3g}",
                         f"{clipped} of {len(series)} ({100 * clipped / len(series):.0f} %)"])
    return table(["algorithm", "implementation", "threshold", "median size before clipping", "steps clipped"], rows)
