"""Views of the gradient-accumulation page (``gallery/topics/09_grad_accumulation/plot_grad_accumulation.py``).

The page counts, from what each program returned, how the micro-batches of an epoch fall into
accumulation windows and how many optimizer steps that made, and states those counts in its
prose through `windows_sentence`, so no count is typed by hand.
"""

from __future__ import annotations

from evidence.programs import LABELS
from evidence.results import RunResult
from evidence.views import Html, paragraph


def arguments(result: RunResult, kind: str) -> dict:
    """The ``run()`` arguments one implementation got: the run's params with its overrides."""
    return {**result.params, **result.run.overrides.get(kind, {})}


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
    params = result.params
    k, epochs = params["accumulate"], params["epochs"]
    return result.per_implementation({
        "micro-batches per epoch": "batches_per_epoch",
        "full windows of k": lambda r: r["batches_per_epoch"] // k,
        "micro-batches in the last window": lambda r: r["batches_per_epoch"] % k,
        "optimizer steps per epoch": lambda r: r["steps"] // epochs,
        "optimizer steps in all": "steps",
    })


def describe(result: RunResult, kind: str) -> str:
    """What one implementation did in each epoch, from its arguments and the counts it returned.

    Args:
        result: A gradient-accumulation run.
        kind: The implementation.

    Returns:
        A clause such as ``"30 micro-batches of 16 in windows of k = 4: 7 full windows and a last
        window of 2 micro-batches (32 samples), 8 optimizer steps per epoch"``.
    """
    args = arguments(result, kind)
    k, size, epochs = args["accumulate"], args["batch_size"], args["epochs"]
    batches, steps = result.value(kind, "batches_per_epoch"), result.value(kind, "steps") // epochs
    if k == 1:
        return f"{batches} batches of {size} and no accumulation, {steps} optimizer steps per epoch"
    full, rest = divmod(batches, k)
    last = (f" and a last window of {rest} micro-batches ({rest * size} samples), whose summed gradient is "
            f"still divided by k = {k}" if rest else ", every window complete")
    return (f"{batches} micro-batches of {size} in windows of k = {k}: {full} full windows{last}; "
            f"{steps} optimizer steps per epoch")


def windows_sentence(result: RunResult) -> Html:
    """One paragraph saying, per group of implementations that got the same arguments, what each epoch held.

    Args:
        result: A gradient-accumulation run.

    Returns:
        A paragraph such as ``"PyTorch, Lightning and Fabric: 30 micro-batches of 16 ..."``.
    """
    groups: dict[str, list[str]] = {}
    for kind in result.kinds():
        groups.setdefault(describe(result, kind), []).append(LABELS[kind])
    parts = []
    for text, labels in groups.items():
        names = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
        parts.append(f"{names}: {text}.")
    return paragraph(" ".join(parts))
