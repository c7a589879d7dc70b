"""Views of the callbacks page (``gallery/topics/14_callbacks/plot_callbacks.py``).

Each callbacks program returns what its inline code (plain PyTorch) or its callback (Lightning,
Fabric) recorded: the gradient norm before every optimizer step (``grad_norms``), the loss of
every step (``step_losses``) and the weight norm at the end of every epoch (``weight_norms``).
These views show the per-step records and how many values each program recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.results import RunResult
from evidence.views import Html, figures, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def per_step_figure(result: RunResult) -> Figure:
    """The gradient norm and the loss of every optimizer step, every implementation overlaid.

    Args:
        result: a run of the callbacks programs.

    Returns:
        The figure: gradient norms on the left, step losses on the right.
    """
    fig, axes = figures.panels(2)
    for kind in result.kinds():
        for ax, path in zip(axes, ("grad_norms", "step_losses")):
            series = result.value(kind, path)
            figures.overlay(ax, kind, range(1, len(series) + 1), series)
    figures.finish(axes[0], title="gradient L2 norm before each optimizer step", xlabel="optimizer step",
                   ylabel="L2 norm of all gradients")
    figures.finish(axes[1], title="training loss of each step", xlabel="optimizer step", ylabel="loss")
    fig.suptitle("Per-step values recorded by the inline code, the Lightning callback and the Fabric callback")
    fig.tight_layout()
    return fig


def records_table(result: RunResult) -> Html:
    """How many values each program recorded, with the first and last of them.

    Args:
        result: a run of the callbacks programs.

    Returns:
        One row per implementation: optimizer steps, gradient norms recorded (count, first,
        last, to six decimals), weight norms recorded (count, last).
    """
    rows = []
    for kind in result.kinds():
        norms = result.value(kind, "grad_norms")
        weights = result.value(kind, "weight_norms")
        rows.append([LABELS[kind], result.value(kind, "steps"), len(norms), f"{norms[0]:.6f}", f"{norms[-1]:.6f}",
                     len(weights), f"{weights[-1]:.6f}"])
    return table(["implementation", "optimizer steps", "gradient norms recorded", "first", "last",
                  "weight norms recorded", "last weight norm"], rows)
