"""Views of the page "Train and eval modes inside hooks" (``gallery/topics/24_hook_modes``).

Every program records, at named points of its run, the network's ``training`` flag and the
grad mode (``grad``, ``no_grad`` or ``inference_mode``) and returns them as ``modes``:
``{point: {"training": [...], "grad": [...]}}``, each list holding the distinct values seen
there, in the order the points were first reached. The Lightning program records in every
callback hook of a fit and in ``training_step`` / ``validation_step`` (validation hooks of the
sanity check carry `` (sanity check)``); the plain and Fabric loops record at the places of
their loop that correspond, under the name of the Lightning hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.running.measure import max_abs_difference
from evidence.views import Code, Html, Strong, table

if TYPE_CHECKING:
    from evidence.results import RunResult

LOOP_POINTS = {
    "on_fit_start": "before the epoch loop",
    "on_train_epoch_start": "top of the epoch, after model.train()",
    "training_step": "each training batch, before the forward pass",
    "validation_step": "each validation batch, inside torch.no_grad()",
    "on_validation_epoch_end": "after the validation loop",
    "on_train_epoch_end": "end of the epoch, before the probe",
    "on_fit_end": "after the epoch loop",
}
"""Where the plain and Fabric loops record, by the Lightning hook they stand for."""


def _mode(seen: dict | None) -> str | None:
    if seen is None:
        return None
    training = " / ".join("train" if value else "eval" for value in seen["training"])
    return f"{training} · {' / '.join(seen['grad'])}"


def hooks_table(result: RunResult) -> Html:
    """The network's mode and the grad mode in every hook, Lightning beside the plain loops.

    Args:
        result: a run of the three programs.

    Returns:
        One row per Lightning hook, in the order the hooks were first called: what Lightning's
        hook saw, and what the plain and Fabric loops saw at the place that corresponds (``–``
        where a loop has none). A cell reads ``train · grad``; several values seen at one
        place are separated by a slash.
    """
    lightning = result.value("lightning", "modes")
    others = [kind for kind in result.kinds() if kind != "lightning"]
    rows = []
    for hook, seen in lightning.items():
        where = LOOP_POINTS.get(hook)
        rows.append([Code(hook), _mode(seen),
                     *(_mode(result.value(kind, "modes").get(hook)) for kind in others), where])
    return table(["hook", LABELS["lightning"], *(LABELS[k] for k in others), "where the plain loops record"], rows)


def mode_shift_table(left: RunResult, headline: RunResult) -> Html:
    """What the network did in the run whose probe leaves it in eval mode, against the headline.

    Args:
        left: the ``left_in_eval`` run (the probe does not restore the mode).
        headline: the headline run (the probe restores it).

    Returns:
        One row per implementation: the modes seen in ``training_step``, batch norm's
        ``num_batches_tracked`` after each epoch (the batches whose statistics it folded into
        its running estimates, which happens only in train mode), the same counts in the
        headline run, and whether the program's per-epoch history differs from its headline run.
    """
    rows = []
    for kind in left.kinds():
        seen = left.value(kind, "modes")["training_step"]
        tracked = left.value(kind, "history.bn_batches_tracked")
        normal = headline.value(kind, "history.bn_batches_tracked")
        changed = max_abs_difference(left.value(kind, "history"), headline.value(kind, "history"))
        rows.append([LABELS[kind], _mode(seen), ", ".join(map(str, tracked)), ", ".join(map(str, normal)),
                     Strong("differs") if changed else "identical"])
    return table(["implementation", "training_step saw", "num_batches_tracked after each epoch",
                  "the same, headline run", "history vs its headline run"], rows)
