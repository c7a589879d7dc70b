"""Views of the learning-rate schedules page (``gallery/topics/08_lr_schedules/plot_lr_schedules.py``).

The page compares two runs, one per schedule: the learning rate each implementation recorded at
every optimizer step (``lr_trace``, a list every program appends to the same way), drawn together;
and, from the runs in which the Lightning program also ran ``LearningRateMonitor``
(``lr_monitor=True``: untimed runs only), what the monitor logged (``monitored_lr``) against the
rates the plain and Fabric loops recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.results import RunResult
from evidence.running.measure import max_abs_difference
from evidence.views import Html, difference, figures, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SCHEDULES = {"step": ("StepLR", "epoch"), "onecycle": ("OneCycleLR", "step")}
"""The ``schedule`` parameter of a run: the scheduler's name and the interval it is stepped at."""


def schedule_name(result: RunResult) -> str:
    """The scheduler a run used and its stepping interval, e.g. ``"OneCycleLR (interval step)"``.

    Args:
        result: A run of the topic (its ``schedule`` parameter names the schedule).

    Returns:
        The scheduler's class name with the interval it is stepped at.
    """
    name, interval = SCHEDULES[result.data["spec"]["params"]["schedule"]]
    return f"{name} (interval {interval})"


def traces_figure(*runs: RunResult) -> Figure:
    """The learning rate at every optimizer step, one panel per run, implementations overlaid.

    Args:
        *runs: The runs to draw, one panel each, in order.

    Returns:
        The matplotlib figure.
    """
    fig, axes = figures.panels(len(runs))
    for ax, run in zip(axes, runs):
        for kind in run.kinds():
            trace = run.value(kind, "lr_trace")
            figures.overlay(ax, kind, range(1, len(trace) + 1), trace, marker="")
        name, interval = SCHEDULES[run.data["spec"]["params"]["schedule"]]
        figures.finish(ax, title=f"{name}, stepped per {interval}", xlabel="optimizer step", ylabel="learning rate")
    fig.suptitle("Learning rate at every optimizer step, three implementations overlaid")
    fig.tight_layout()
    return fig


def monitor_table(*runs: RunResult) -> Html:
    """What ``LearningRateMonitor`` logged against the rates every loop recorded.

    Args:
        *runs: Runs in which the Lightning program ran the monitor (``monitored_lr``), one row each.

    Returns:
        A table: per run, the number of values the monitor logged and of optimizer steps, and the
        largest difference of the logged values from the plain PyTorch, the Fabric and the
        Lightning program's own records.
    """
    rows = []
    for run in runs:
        logged = run.value("lightning", "monitored_lr")
        rows.append([schedule_name(run), len(logged), run.value("lightning", "steps"),
                     *(difference(max_abs_difference(logged, run.value(kind, "lr_trace")))
                       for kind in ("pytorch", "fabric", "lightning"))])
    return table(["schedule", "values logged by the monitor", "optimizer steps",
                  "max |monitor − PyTorch|", "max |monitor − Fabric|", "max |monitor − Lightning's list|"], rows)
