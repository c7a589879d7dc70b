"""Views of the page "Validation, test and prediction loops" (``gallery/topics/02_eval_loops``).

The mode table reads what every program recorded inside its evaluation batches; the score
table reads the final numbers each returned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Html, codes, table

if TYPE_CHECKING:
    from evidence.results import RunResult

STAGES = {"val": "validation during fit", "validate": "validate", "test": "test", "predict": "predict"}
"""The evaluation passes the programs record, by the stage name in their results."""


def modes_table(result: RunResult) -> Html:
    """What ``model.training``, grad mode and inference mode were inside each evaluation pass.

    Args:
        result: the topic's headline run; every program returns ``modes.<stage>.training``,
            ``modes.<stage>.grad_enabled`` and ``inference_mode.<stage>``, each the list of the
            distinct values seen in that pass.

    Returns:
        A table with one row per implementation and pass; several values seen in one pass are
        separated by a slash.
    """
    rows = []
    for kind in result.kinds():
        for stage, label in STAGES.items():
            rows.append([LABELS[kind], label,
                         codes(result.value(kind, f"modes.{stage}.training"), sep=" / "),
                         codes(result.value(kind, f"modes.{stage}.grad_enabled"), sep=" / "),
                         codes(result.value(kind, f"inference_mode.{stage}"), sep=" / ")])
    return table(["implementation", "pass", "model.training", "torch.is_grad_enabled()",
                  "torch.is_inference_mode_enabled()"], rows)


def scores_table(result: RunResult) -> Html:
    """The final validation and test scores, the rows predicted and the repeated-prediction check.

    Args:
        result: the topic's headline run.

    Returns:
        A table with one row per implementation.
    """
    rows = [[LABELS[kind], f"{result.value(kind, 'final_val_loss'):.6f}", f"{result.value(kind, 'test_loss'):.6f}",
             f"{result.value(kind, 'test_acc'):.4f}", len(result.value(kind, "predictions")),
             f"{result.value(kind, 'repeat_difference'):.3g}"]
            for kind in result.kinds()]
    return table(["implementation", "validate: val loss", "test loss", "test accuracy", "rows predicted",
                  "repeated predictions: max |difference|"], rows)
