"""Views of the page "Accumulation at the edges" (``gallery/topics/23_accumulation_edges``).

Every program returns, besides the usual values, ``windows``: for each optimizer step it took,
the sizes of the micro-batches whose gradients that step used (``[[16, 16, 8], ...]``), and
``batches_per_epoch``. A run's ``divide_by`` argument says what each micro-batch's mean loss was
divided by before ``backward()``: ``"n"`` the window size N (``accumulate``, what
``accumulate_grad_batches`` does), ``"samples"`` the number of samples in its window (so that the
window's gradient is the mean over its samples), ``"none"`` nothing. From these the views work
out the weight every sample had in the step it contributed to, next to the weight one large batch
of the same samples gives it.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, Strong, paragraph, table

if TYPE_CHECKING:
    from evidence.results import RunResult


DIVIDED = {"n": "N", "samples": "the samples in its window", "none": "nothing"}
"""How the tables name each ``divide_by`` value."""


def arguments(result: RunResult, kind: str) -> dict:
    """The ``run()`` arguments one implementation got: the run's params with its overrides."""
    return {**result.params, **result.run.overrides.get(kind, {})}


def sample_weight(size: int, window: int, accumulate: int, divide_by: str) -> Fraction:
    """The weight one sample of a micro-batch of ``size`` has in its step's gradient.

    The loss of a micro-batch is the mean over its ``size`` samples, then divided as ``divide_by``
    says; the step's gradient is the sum over the window's micro-batches. One large batch of the
    window's samples gives every sample the weight ``1 / window``.

    Args:
        size: Samples in the micro-batch.
        window: Samples in the window the micro-batch belongs to.
        accumulate: N, the micro-batches per full window.
        divide_by: ``"n"``, ``"samples"`` or ``"none"``.

    Returns:
        The exact weight as a fraction.
    """
    if divide_by == "n":
        return Fraction(1, size * accumulate)
    if divide_by == "samples":
        return Fraction(1, window)
    return Fraction(1, size)


def windows_table(result: RunResult, kind: str) -> Html:
    """The optimizer steps of the first epoch of one implementation, and what each sample weighed.

    Args:
        result: A run of the topic.
        kind: The implementation whose windows are shown (one that accumulates).

    Returns:
        A table with a row per optimizer step of the first epoch: the micro-batch sizes, the
        window's samples, the weight of one sample of each micro-batch, the total weight of the
        window relative to the mean over its samples (1 is the large batch's), and the weight one
        batch of the same samples gives each of them.
    """
    args = arguments(result, kind)
    accumulate, divide_by = args["accumulate"], args["divide_by"]
    batches = result.value(kind, "batches_per_epoch")
    rows, seen = [], 0
    for step, sizes in enumerate(result.value(kind, "windows"), start=1):
        if seen >= batches:
            break
        seen += len(sizes)
        window = sum(sizes)
        weights = [sample_weight(size, window, accumulate, divide_by) for size in sizes]
        total = sum(w * size for w, size in zip(weights, sizes))
        rows.append([step, ", ".join(map(str, sizes)), window, ", ".join(str(w) for w in weights),
                     str(total) if total == 1 else Strong(str(total)), str(Fraction(1, window))])
    return table(["optimizer step", "micro-batch sizes", "samples", "weight of one sample, per micro-batch",
                  "total weight (1 = the window's mean)", "weight in one batch of these samples"], rows,
                 caption=f"{LABELS[kind]}, first epoch: N = {accumulate}, each micro-batch's mean loss divided by "
                         f"{DIVIDED[divide_by]}.")


def steps_sentence(result: RunResult) -> Html:
    """How many optimizer steps each implementation took, against windows that span epochs.

    Args:
        result: A run of the topic whose epochs are shorter than N or end in an incomplete window.

    Returns:
        A paragraph: micro-batches per epoch, N, the steps each implementation took, and the steps
        windows of N running across epoch boundaries would have made.
    """
    args = arguments(result, "pytorch")
    epochs, accumulate = args["epochs"], args["accumulate"]
    batches = result.value("pytorch", "batches_per_epoch")
    steps = ", ".join(f"{LABELS[k]} {result.value(k, 'steps')}" for k in result.kinds())
    return paragraph(
        f"{epochs} epochs of {batches} micro-batches of up to {args['batch_size']} samples ({args['train_size']} "
        f"samples), N = {accumulate} (", Code(f"accumulate_grad_batches={accumulate}"), f"). Optimizer steps: {steps}. "
        f"Windows of {accumulate} running across epoch boundaries would have made {epochs * batches // accumulate} "
        f"steps from the same {epochs * batches} micro-batches.")
