"""Views of the page "Validation, test and prediction loops" (``gallery/topics/02_eval_loops``).

The mode table reads what every program recorded inside its evaluation batches; the score
table reads the final numbers each returned. :func:`train_mode_table` is the one view here that
computes something no run returns (see its docstring).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, codes, table

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


def train_mode_table(result: RunResult) -> Html:
    """Two passes of a fresh network over the same new rows, in train mode and in eval mode.

    No run returns this: the programs only ever predict in eval mode. The network and the new
    rows are therefore rebuilt here with the plain program's own ``build_model`` and
    ``make_data`` and the headline run's seed, and the network is evaluated twice in each mode
    (no training, no program run). The program folder is part of the headline run's cache key,
    so the page is rendered again whenever the network or the data change.

    Args:
        result: the topic's headline run (its ``seed`` parameter seeds the network and the data).

    Returns:
        A table with one row per mode: the largest difference between the two passes'
        predicted probabilities.
    """
    import torch

    from snippets.eval_loops.pytorch_eval_loops import build_model, make_data

    seed = result.run.params.get("seed", 0)
    torch.manual_seed(seed)
    model = build_model()
    (new_rows,) = make_data(seed)[3].tensors
    rows = []
    for mode in ("train", "eval"):
        model.train(mode == "train")
        with torch.no_grad():
            first, second = model(new_rows).softmax(dim=1), model(new_rows).softmax(dim=1)
        rows.append([Code(f"model.{mode}()"), f"{(first - second).abs().max().item():.3g}"])
    return table(["mode", "max |difference| between two passes over the same rows"], rows)
