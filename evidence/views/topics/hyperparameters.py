"""Views of the hyperparameters page (``gallery/topics/19_hyperparameters/plot_hyperparameters.py``).

Each program saves one checkpoint, reads it back and returns its file name (``checkpoint``),
its top-level keys (``checkpoint_keys``), the hyperparameters stored in it (``saved_hparams``)
and whether the model rebuilt from it predicts what the trained one did (``reload_identical``,
``reload_difference``, ``predictions``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, codes, difference, table

if TYPE_CHECKING:
    from evidence.results import RunResult


def checkpoint_table(result: RunResult) -> Html:
    """What each checkpoint holds: file name, top-level keys and saved hyperparameters (as JSON).

    Args:
        result: the run.

    Returns:
        The table, one row per implementation.
    """
    rows = [[LABELS[kind], Code(result.value(kind, "checkpoint")), codes(result.value(kind, "checkpoint_keys")),
             Code(json.dumps(result.value(kind, "saved_hparams"), sort_keys=True))]
            for kind in result.kinds()]
    return table(["implementation", "checkpoint file", "top-level keys", "saved hyperparameters"], rows)


def reload_table(result: RunResult) -> Html:
    """Whether the model rebuilt from each checkpoint predicts bit for bit what the trained one did.

    Args:
        result: the run.

    Returns:
        The table, one row per implementation, with the shape of the logits compared.
    """
    rows = []
    for kind in result.kinds():
        predictions = result.value(kind, "predictions")
        rows.append([LABELS[kind], result.value(kind, "reload_identical"),
                     difference(result.value(kind, "reload_difference")),
                     f"{len(predictions)} × {len(predictions[0])}"])
    return table(["implementation", "bitwise identical after reload", "max |difference|", "logits compared"], rows)
