"""Views of the page "When the scheduler steps" (``gallery/topics/22_scheduler_interval``).

Every program trains under the same per-step schedule (a linear warm-up over ``warmup``
optimizer steps, then a linear decay to zero at the last step) and records the learning rate of
every optimizer step (``lr_trace``), how many times the scheduler was stepped
(``scheduler_steps``) and the total the schedule was built for (``total_steps``). The run's
``interval`` parameter says where the scheduler is stepped: ``"step"`` after every optimizer
step (Lightning: ``"interval": "step"``), ``"epoch"`` once per epoch (Lightning: the scheduler
returned without an interval, the default way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, figures, number, paragraph, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from evidence.results import RunResult

CONFIGURED = {
    "step": '{"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}',
    "epoch": '{"optimizer": optimizer, "lr_scheduler": scheduler}',
}
"""What the Lightning program's ``configure_optimizers`` returns for each ``interval`` parameter."""


def interval_of(result: RunResult) -> str:
    """The run's ``interval`` parameter: ``"step"`` or ``"epoch"``."""
    return result.params["interval"]


def title(result: RunResult) -> str:
    """A panel title: where the scheduler was stepped in this run."""
    return ('"interval": "step": stepped after every optimizer step' if interval_of(result) == "step"
            else "no interval (default): stepped once per epoch")


def traces_figure(*runs: RunResult) -> Figure:
    """The learning rate of every optimizer step, one panel per run, implementations overlaid.

    Epoch boundaries are marked with thin vertical lines, so a rate that only moves at them shows.

    Args:
        *runs: The runs to draw, one panel each.

    Returns:
        The matplotlib figure; the panels share the y axis.
    """
    fig, axes = figures.panels(len(runs), sharey=True)
    for ax, run in zip(axes, runs):
        reference = run.kinds()[0]
        steps = len(run.value(reference, "lr_trace"))
        per_epoch = steps // run.params["epochs"]
        for boundary in range(per_epoch, steps, per_epoch):
            ax.axvline(boundary + 0.5, color="#999999", linewidth=0.6, linestyle="-")
        for kind in run.kinds():
            trace = run.value(kind, "lr_trace")
            figures.overlay(ax, kind, range(1, len(trace) + 1), trace, marker="")
        figures.finish(ax, title=title(run), xlabel="optimizer step (grey lines: epoch ends)",
                       ylabel="learning rate")
    fig.suptitle("The same warm-up schedule, stepped per step and per epoch: learning rate at every optimizer step")
    fig.tight_layout()
    return fig


def schedule_table(*runs: RunResult) -> Html:
    """What the schedule did in each run, counted from the programs' records.

    Args:
        *runs: Runs of the topic; every implementation of a run is counted.

    Returns:
        A table with one row per run and implementation: the run, what Lightning's ``configure_optimizers``
        returned (Lightning rows), optimizer steps, scheduler steps, the schedule's length, the
        highest rate any step used, the rate of the last step and the last validation loss.
    """
    rows = []
    for run in runs:
        for kind in run.kinds():
            trace = run.value(kind, "lr_trace")
            configured = (Code(CONFIGURED[interval_of(run)]) if kind == "lightning"
                          else f"scheduler.step() per {interval_of(run)}")
            rows.append([Code(run.run.name), LABELS[kind], configured, run.value(kind, "steps"),
                         run.value(kind, "scheduler_steps"), run.value(kind, "total_steps"), number(max(trace)),
                         number(trace[-1]), number(run.value(kind, "history.val_loss")[-1])])
    return table(["run", "implementation", "how the scheduler is stepped", "optimizer steps", "scheduler steps",
                  "schedule built for (steps)", "highest rate used", "rate of the last step", "last val_loss"], rows)


def interval_sentence(result: RunResult) -> Html:
    """The interval Lightning recorded for the scheduler in a run (its ``LRSchedulerConfig.interval``).

    Args:
        result: A run of the topic with a Lightning implementation.

    Returns:
        A paragraph naming what ``configure_optimizers`` returned and the interval the Trainer used.
    """
    return paragraph("Lightning's configure_optimizers returned ", Code(CONFIGURED[interval_of(result)]),
                     "; the Trainer recorded ", Code(f'interval="{result.value("lightning", "configured_interval")}"'),
                     f" for the scheduler and stepped it {result.value('lightning', 'scheduler_steps')} times in "
                     f"{result.value('lightning', 'steps')} optimizer steps.")
