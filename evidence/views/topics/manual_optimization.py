"""Views of the manual-optimization page (``gallery/topics/15_manual_optimization/plot_manual_optimization.py``).

Each GAN program returns the 256 points its trained generator makes from a fixed noise batch
(``generated``), the optimizer steps it took (``steps``, two per batch) and the per-epoch mean
radius of those points (``history.fake_radius``). These views show them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import math
import statistics

from evidence.programs import LABELS
from evidence.results import RunResult
from evidence.views import Html, figures, paragraph, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

RING_RADIUS = 2.0
"""The radius of the ring the real points lie on (the programs' data)."""

RING_SPREAD = 0.1
"""The standard deviation of the real points' radius (the programs' data: ``2.0 + 0.1 * randn``)."""


def generated_figure(result: RunResult) -> Figure:
    """The points each trained generator made, one panel per implementation, over the real ring.

    Args:
        result: a run of the GAN programs.

    Returns:
        The figure, with equal axes shared by every panel.
    """
    kinds = result.kinds()
    fig, axes = figures.panels(len(kinds), width=4.0, height=4.0, sharex=True, sharey=True)
    theta = [2 * math.pi * i / 200 for i in range(201)]
    for ax, kind in zip(axes, kinds):
        points = result.value(kind, "generated")
        ax.plot([RING_RADIUS * math.cos(t) for t in theta], [RING_RADIUS * math.sin(t) for t in theta],
                color="0.6", linewidth=6, alpha=0.4, label=f"real data (radius {RING_RADIUS:g})")
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=8, color=figures.COLORS.get(kind),
                   label="generated")
        figures.finish(ax, title=LABELS[kind], legend=False)
        ax.set_aspect("equal")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Points generated from the same fixed noise by each trained generator")
    fig.tight_layout()
    return fig


def steps_table(result: RunResult) -> Html:
    """The optimizer steps each program took and the final mean radius of its generated points.

    Args:
        result: a run of the GAN programs.

    Returns:
        One row per implementation; the radius to six decimals.
    """
    return table(["implementation", "optimizer steps", "final fake_radius"],
                 [[LABELS[k], result.value(k, "steps"), f"{result.value(k, 'history.fake_radius')[-1]:.6f}"]
                  for k in result.kinds()])


def generated_summary(result: RunResult) -> Html:
    """How far the generator got, in numbers: the radii of its points against the real ring's.

    The values come from the reference implementation (the first kind); the parity check shows
    the other generators made the same points.

    Args:
        result: a run of the GAN programs.

    Returns:
        A paragraph: epochs and batches trained, the mean, spread and range of the generated
        points' distance from the origin against the real data's, and the mean radius over the
        last two epochs.
    """
    kind = result.kinds()[0]
    points = result.value(kind, "generated")
    radii = [math.hypot(x, y) for x, y in points]
    trace = result.value(kind, "history.fake_radius")
    epochs, steps = len(trace), result.value(kind, "steps")
    within = sum(abs(r - RING_RADIUS) <= 3 * RING_SPREAD for r in radii)
    verdict = ("most generated points lie on the ring" if within >= 0.9 * len(radii)
               else "the generator has not learnt the ring")
    trend = ""
    if len(trace) > 1:
        trend = (f" The mean radius was {'still rising' if trace[-1] > trace[-2] else 'no longer rising'} "
                 f"at the last epoch ({trace[-2]:.2f}, then {trace[-1]:.2f}).")
    return paragraph(
        f"After {epochs} epochs ({steps // 2} batches, {steps} optimizer steps), the {len(points)} generated points "
        f"lie at a mean distance of {statistics.mean(radii):.2f} from the origin (the real points: {RING_RADIUS:g}), "
        f"and their distances spread from {min(radii):.2f} to {max(radii):.2f}, with a standard deviation of "
        f"{statistics.pstdev(radii):.2f} against {RING_SPREAD:g} for the real data; {within} of them "
        f"({100 * within / len(radii):.0f} %) lie within {3 * RING_SPREAD:g} of the ring: {verdict}.{trend}")
