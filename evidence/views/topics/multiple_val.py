"""Views of the page "Several validation sets" (``gallery/topics/26_multiple_val``).

Every program returns the names it keeps its metrics under after training (``metric_names``:
the plain and Fabric loops' own dictionary keys, ``trainer.callback_metrics`` for Lightning)
and the batches each validation set has (``validation_batches``); Lightning also returns the
batches its sanity check validated per set (``sanity_check_batches``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Html, Lines, codes, table

if TYPE_CHECKING:
    from evidence.results import RunResult


def _per_set(counts: dict | None) -> str | None:
    return None if counts is None else ", ".join(f"{name}: {n}" for name, n in counts.items())


def names_table(result: RunResult, own_names: RunResult) -> Html:
    """The metric names of each implementation, with Lightning's suffix and without it.

    Args:
        result: the headline run (Lightning with the default ``add_dataloader_idx=True``).
        own_names: the run where the Lightning program names each set itself
            (``add_dataloader_idx=False``); the plain and Fabric programs are unchanged.

    Returns:
        One row per implementation: the names in each run (one per line), the validation
        batches per set, and the batches Lightning's sanity check validated per set.
    """
    rows = [[LABELS[kind], Lines(codes([name]) for name in result.value(kind, "metric_names")),
             Lines(codes([name]) for name in own_names.value(kind, "metric_names")),
             _per_set(result.value(kind, "validation_batches")),
             _per_set(result.implementations[kind].get("sanity_check_batches"))]
            for kind in result.kinds()]
    return table(["implementation", "names after fit", "names, add_dataloader_idx=False",
                  "validation batches per set", "sanity-check batches per set"], rows)
