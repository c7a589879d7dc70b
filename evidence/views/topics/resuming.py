"""Views of the page "Resuming an interrupted run" (``gallery/topics/06_resuming``).

Every program trains uninterrupted, then interrupted and resumed, and returns whether its
resumed weights equal its uninterrupted ones (``bitwise_equal``) and the largest difference
(``resume_difference``). The ``forget_<state>`` runs of ``snippets/resuming/runs.toml`` resume
without one piece of state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, Strong, difference, paragraph, table

if TYPE_CHECKING:
    from evidence.results import RunResult, TopicRuns

FORGOTTEN = ("optimizer", "scheduler", "rng", "loader")
"""The states a run can resume without; the run ``forget_<name>`` resumes without ``<name>``."""


def epochs_of(result: RunResult) -> tuple[int, int]:
    """The run's epochs in all and the epochs before the interruption (``stop_after``, by default half)."""
    epochs = result.params["epochs"]
    stop_after = result.params.get("stop_after")
    return epochs, epochs // 2 if stop_after is None else stop_after


def span(first: int, last: int) -> str:
    """``"epoch 3"`` or ``"epochs 3 to 5"``."""
    return f"epoch {first}" if first == last else f"epochs {first} to {last}"


def plan(result: RunResult) -> Html:
    """What each ``run()`` trains, with the run's epoch numbers, counted as the logs count them.

    Args:
        result: the topic's headline run.

    Returns:
        A paragraph: the uninterrupted training, the interruption (epochs completed and the
        zero-based epochs of the logs), what the resumed training runs, and the epoch the
        checkpoint records in every implementation.
    """
    epochs, stop = epochs_of(result)
    return paragraph(
        f"Each run() trains three times: {epochs} epochs without a break; the same training interrupted after "
        f"{stop} of the {epochs} epochs and saved to a checkpoint; and a fresh start that resumes from the "
        f"checkpoint and trains the remaining {epochs - stop}. The logs number epochs from zero, as Lightning's ",
        Code("current_epoch"), f" does: the interrupted training prints {span(0, stop - 1)}, the resumed one "
        f"{span(stop, epochs - 1)}. In all three programs the checkpoint's ", Code("epoch"),
        f" entry counts the epochs completed ({stop}), as Lightning's does, and training resumes at that epoch. "
        f"That is {epochs + epochs} epochs per run() in all.")


def curves_note(result: RunResult) -> Html:
    """Where each part of the resumed run's curves comes from, with the run's epoch numbers.

    Args:
        result: the topic's headline run.

    Returns:
        A paragraph.
    """
    epochs, stop = epochs_of(result)
    return paragraph(f"The interrupted-and-resumed runs' curves: {span(0, stop - 1)} from the training that was "
                     f"interrupted, {span(stop, epochs - 1)} from the resumed one (the logs above show that these "
                     f"print the same losses and learning rates as the uninterrupted training's).")


def equal_cell(equal: bool) -> bool | Strong:
    """A bitwise-equality flag as a table cell.

    Args:
        equal: whether the resumed weights are bitwise equal to the uninterrupted ones.

    Returns:
        True (shown as ``yes``) or a strong ``no``, which a reader must not miss.
    """
    return True if equal else Strong("no")


def resume_table(result: RunResult) -> Html:
    """Each implementation's resumed weights against its own uninterrupted ones.

    Args:
        result: the topic's headline run.

    Returns:
        A table with one row per implementation: bitwise equality, the largest difference,
        the epochs in the interrupted-and-resumed history, the ``epoch`` its checkpoint
        recorded, and its learning rate per epoch.
    """
    rows = [[LABELS[kind], equal_cell(result.value(kind, "bitwise_equal")),
             difference(result.value(kind, "resume_difference")), len(result.value(kind, "history.val_loss")),
             result.value(kind, "checkpoint_epoch"),
             ", ".join(f"{lr:g}" for lr in result.value(kind, "history.lr"))]
            for kind in result.kinds()]
    return table(["implementation", "final weights bitwise equal", "max |difference|", "epochs in history",
                  "epoch entry of the checkpoint", "learning rate per epoch (interrupted, then resumed)"], rows)


def forgotten_table(runs: TopicRuns, forgotten: tuple[str, ...] = FORGOTTEN) -> Html:
    """What resuming without each piece of state does, in plain PyTorch and across implementations.

    Args:
        runs: the topic's runs, holding one ``forget_<name>`` run per forgotten state.
        forgotten: the states to show, in order.

    Returns:
        A table with one row per forgotten state: whether plain PyTorch's resumed weights are
        still bitwise equal to its uninterrupted ones, the largest difference, and the parity
        verdict of the broken Lightning and Fabric runs against the broken plain one.
    """
    rows = []
    for name in forgotten:
        broken = runs[f"forget_{name}"]
        rows.append([Code(f"--forget {name}"), equal_cell(broken.value("pytorch", "bitwise_equal")),
                     difference(broken.value("pytorch", "resume_difference")),
                     f"{broken.parity_data['verdict']} ({difference(broken.parity_data['value'])})"])
    return table(["resumed without", "bitwise equal", "max |difference| from uninterrupted",
                  "Lightning and Fabric against plain"], rows)
