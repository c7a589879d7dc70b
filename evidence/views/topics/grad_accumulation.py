"""Views of the gradient-accumulation page (``gallery/topics/09_grad_accumulation/plot_grad_accumulation.py``).

The page counts, from what each program returned, how the micro-batches of an epoch fall into
accumulation windows and how many optimizer steps that made.
"""

from __future__ import annotations

from evidence.results import RunResult
from evidence.views import Html


def windows_table(result: RunResult) -> Html:
    """Micro-batches, accumulation windows and optimizer steps of each implementation.

    The window size ``k`` and the number of epochs are the run's ``accumulate`` and ``epochs``
    parameters; the micro-batches per epoch and the optimizer steps are what each program
    counted.

    Args:
        result: A run in which every implementation accumulates.

    Returns:
        A table with one row per implementation: micro-batches per epoch, full windows of
        ``k``, micro-batches in the last window, optimizer steps per epoch and in all.
    """
    params = result.data["spec"]["params"]
    k, epochs = params["accumulate"], params["epochs"]
    return result.per_implementation({
        "micro-batches per epoch": "batches_per_epoch",
        "full windows of k": lambda r: r["batches_per_epoch"] // k,
        "micro-batches in the last window": lambda r: r["batches_per_epoch"] % k,
        "optimizer steps per epoch": lambda r: r["steps"] // epochs,
        "optimizer steps in all": "steps",
    })
