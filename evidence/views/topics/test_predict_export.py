"""Views of the page "Test, predict and ship" (``gallery/topics/27_test_predict_export``).

Every program trains with validation, keeps the weights of the best validation epoch, tests
either those (``test_with="best"``, the headline run) or the final weights (the ``final`` run),
writes its predictions on the test rows to ``predictions.pt``, moves the network to the CPU,
exports it with ``torch.export`` and runs the exported program loaded back from ``model.pt2``.
Each returns the best epoch, the epoch whose weights it tested (``tested_epoch``, 1-based), the
test loss and accuracy, the predictions (logits), the exported program's outputs on the same rows
and whether they equal the network's own outputs on the CPU (``export_identical``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, difference, number, paragraph, table

if TYPE_CHECKING:
    from evidence.results import RunResult


def tested_table(best: RunResult, final: RunResult) -> Html:
    """Which weights each program tested, and what the test set says about them, in both runs.

    Args:
        best: the run that tests the best validation epoch's weights.
        final: the run that tests the final weights.

    Returns:
        A table with one row per implementation and run: the weights tested, their epoch, that
        epoch's validation loss, the test loss and the test accuracy.
    """
    rows = []
    for name, run in (("best checkpoint", best), ("final weights", final)):
        for kind in run.kinds():
            epoch = run.value(kind, "tested_epoch")
            rows.append([LABELS[kind], name, epoch, number(run.value(kind, "history.val_loss")[epoch - 1]),
                         number(run.value(kind, "test_loss")), number(run.value(kind, "test_accuracy"))])
    return table(["implementation", "tested", "epoch", "its validation loss", "test loss", "test accuracy"], rows)


def best_sentence(best: RunResult, final: RunResult) -> Html:
    """The best epoch against the last one, and what testing the one or the other changed, from the runs.

    Args:
        best: the run that tests the best validation epoch's weights.
        final: the run that tests the final weights.

    Returns:
        A paragraph whose numbers come from plain PyTorch's results (the parity checks compare
        the others with them).
    """
    epochs = best.params["epochs"]
    chosen = best.value("pytorch", "best_epoch")
    same = "the same as" if chosen == epochs else "not"
    at_best, at_final = best.value("pytorch", "test_loss"), final.value("pytorch", "test_loss")
    parts = [f"The best validation loss of the {epochs} epochs came at epoch {chosen}, {same} the last one. "
             f"Tested with that epoch's weights the test loss is {number(at_best)}; with the final weights it is "
             f"{number(at_final)} (plain PyTorch; Lightning and Fabric in the table)."]
    if chosen != epochs and at_final < at_best:
        parts.append(" Here the final weights do better on the test set than the epoch chosen on validation: "
                     "both sets are small, so either loss is a noisy estimate, and picking the best of several "
                     "epochs on the validation set favours an epoch that was lucky there. The test set's job is to "
                     "say so.")
    return paragraph(*parts)


def export_table(result: RunResult) -> Html:
    """The predictions written and the exported program's outputs, per implementation.

    Args:
        result: a run.

    Returns:
        A table: the shape of the predictions, whether the exported program computes bitwise what
        the network computes on the CPU (``export_identical``), and the largest difference between
        the exported program's logits and the predictions written on the training device (0.0
        when that device is the CPU).
    """
    rows = []
    for kind in result.kinds():
        predictions = result.value(kind, "predictions")
        exported = result.value(kind, "exported_predictions")
        largest = max(abs(a - b) for row_a, row_b in zip(predictions, exported) for a, b in zip(row_a, row_b))
        rows.append([LABELS[kind], Code(f"[{len(predictions)}, {len(predictions[0])}]"),
                     "bitwise equal" if result.value(kind, "export_identical") else "DIFFERENT",
                     difference(largest)])
    return table(["implementation", "predictions.pt holds", "model.pt2 vs the network on the CPU",
                  f"model.pt2 vs predictions.pt ({result.value(result.kinds()[0], 'device')}): max |difference|"],
                 rows)
