"""Views of the page "Real data with a DataModule" (``gallery/topics/03_datamodule``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, table

if TYPE_CHECKING:
    from evidence.results import RunResult


def test_table(result: RunResult) -> Html:
    """The split sizes, test loss and test accuracy of every implementation.

    Args:
        result: the topic's headline run; every program returns ``split_sizes`` (rows per
            split, in the order train, val, test), ``test_loss`` and ``test_acc``.

    Returns:
        A table with one row per implementation.
    """
    rows = [[LABELS[kind], " / ".join(str(n) for n in result.value(kind, "split_sizes").values()),
             f"{result.value(kind, 'test_loss'):.4f}", f"{result.value(kind, 'test_acc'):.4f}"]
            for kind in result.kinds()]
    return table(["implementation", "train / val / test rows", "test loss", "test accuracy"], rows)


def hook_calls_table(result: RunResult) -> Html:
    """The DataModule hooks the Lightning ``Trainer`` called, in order.

    Args:
        result: the topic's headline run; the Lightning program returns ``datamodule_calls``.

    Returns:
        A table with one row per call.
    """
    calls = result.value("lightning", "datamodule_calls")
    return table(["order", "hook called by the Trainer"], [[i, Code(call)] for i, call in enumerate(calls, 1)])
