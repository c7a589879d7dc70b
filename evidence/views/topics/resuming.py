"""Views of the page "Resuming an interrupted run" (``gallery/topics/06_resuming``).

Every program trains uninterrupted, then interrupted and resumed, and returns whether its
resumed weights equal its uninterrupted ones (``bitwise_equal``) and the largest difference
(``resume_difference``). The ``forget_<state>`` runs of ``snippets/resuming/runs.toml`` resume
without one piece of state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, Strong, difference, table

if TYPE_CHECKING:
    from evidence.results import RunResult, TopicRuns

FORGOTTEN = ("optimizer", "scheduler", "rng", "loader")
"""The states a run can resume without; the run ``forget_<name>`` resumes without ``<name>``."""


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
        the epochs in the resumed run's history and its learning rate per epoch.
    """
    rows = [[LABELS[kind], equal_cell(result.value(kind, "bitwise_equal")),
             difference(result.value(kind, "resume_difference")), len(result.value(kind, "history.val_loss")),
             ", ".join(f"{lr:g}" for lr in result.value(kind, "history.lr"))]
            for kind in result.kinds()]
    return table(["implementation", "final weights bitwise equal", "max |difference|", "epochs in history",
                  "learning rate per epoch (resumed run)"], rows)


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
