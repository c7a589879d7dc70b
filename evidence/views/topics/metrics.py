"""Views of the page "Metrics that cannot be averaged per batch" (``gallery/topics/21_metrics``).

Each program trains on two ranks and, after every epoch, computes F1 and AUROC on the
validation set (split between the ranks) in its own ways, and the same two numbers on the
whole set in one process as the reference. Its ``history`` holds, per epoch:

- ``val_f1`` / ``val_auroc``: the program's whole-set method (by hand for PyTorch, a torchmetrics
  object logged with ``self.log`` for Lightning, torchmetrics objects for Fabric);
- ``tm_f1`` / ``tm_auroc`` (PyTorch only): torchmetrics objects in the plain loop;
- ``batch_f1`` / ``batch_auroc``: the per-batch value averaged over batches and ranks
  (``all_reduce``, ``sync_dist=True``, ``fabric.all_reduce``);
- ``true_f1`` / ``true_auroc``: the reference, on the whole set in one process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, Joined, Strong, figures, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from evidence.results import RunResult

APPROACHES = [
    ("pytorch", "val", ["by hand: ", Code("all_reduce"), " of the TP/FP/FN counts, ", Code("all_gather"), " of the scores"]),
    ("pytorch", "tm", ["torchmetrics objects: ", Code("update"), " per batch, ", Code("compute()"), " per epoch"]),
    ("pytorch", "batch", ["per-batch values, averaged with ", Code("all_reduce")]),
    ("lightning", "val", [Code('self.log("val_f1", self.val_f1)'), " (the metric object)"]),
    ("lightning", "batch", [Code('self.log("batch_f1", binary_f1_score(probs, y), sync_dist=True)')]),
    ("fabric", "val", ["torchmetrics objects: ", Code("update"), " per batch, ", Code("compute()"), " per epoch"]),
    ("fabric", "batch", ["per-batch values, averaged with ", Code("fabric.all_reduce")]),
]
"""Every way a program computes the two metrics: (implementation, history prefix, description)."""


def _verdict(difference: float) -> Strong | str:
    return "the whole-set number" if difference <= 1e-6 else Strong("not the whole-set number")


def approaches_table(result: RunResult) -> Html:
    """F1 and AUROC of the last epoch, each way, against the whole set computed on one process.

    Args:
        result: the topic's run.

    Returns:
        One row per way of computing (see `APPROACHES`) and a last row for the
        reference: the last epoch's F1 and AUROC, and the largest |difference| from the
        reference over all epochs, with a verdict at a tolerance of 1e-6.
    """
    reference = {m: result.value("pytorch", f"history.true_{m}") for m in ("f1", "auroc")}
    rows = []
    for kind, prefix, description in APPROACHES:
        if kind not in result.kinds():
            continue
        cells = [LABELS[kind], Joined(description, sep="")]
        worst = 0.0
        for metric in ("f1", "auroc"):
            values = result.value(kind, f"history.{prefix}_{metric}")
            difference = max(abs(a - b) for a, b in zip(values, reference[metric]))
            worst = max(worst, difference)
            cells += [f"{values[-1]:.4f}", f"{difference:.2g}" if difference else "0.0"]
        rows.append([*cells, _verdict(worst)])
    rows.append(["reference", "the whole validation set on one process (torchmetrics functional)",
                 f"{reference['f1'][-1]:.4f}", "", f"{reference['auroc'][-1]:.4f}", "", ""])
    return table(["implementation", "computed", "F1 (last epoch)", "max |F1 − reference|", "AUROC (last epoch)",
                  "max |AUROC − reference|", "verdict"], rows,
                 caption="Differences are the largest over the epochs; the reference is plain PyTorch's "
                         "(the three programs' references agree, see the parity table).")


def metrics_figure(result: RunResult) -> Figure:
    """Each method's F1 and AUROC minus the whole-set reference, per epoch.

    Args:
        result: the topic's run.

    Returns:
        Two panels (F1, AUROC): zero is the reference (the whole set on one process); each
        implementation's whole-set method in its own style, and its per-batch average as a
        thin line of the same colour with crosses.
    """
    fig, axes = figures.panels(2)
    for ax, metric in zip(axes, ("f1", "auroc")):
        reference = result.value("pytorch", f"history.true_{metric}")
        epochs = list(range(1, len(reference) + 1))
        ax.axhline(0.0, color="black", linewidth=6, alpha=0.15, label="whole set, one process")
        for kind in result.kinds():
            for prefix, label, extra in (("val", "whole-set method", {}),
                                         ("batch", "per-batch average", {"linewidth": 1, "alpha": 1.0, "marker": "x"})):
                values = result.value(kind, f"history.{prefix}_{metric}")
                figures.overlay(ax, kind, epochs, [v - r for v, r in zip(values, reference)],
                                label=f"{LABELS[kind]}: {label}", **extra)
        ax.set_xticks(epochs)
        figures.finish(ax, title=f"{metric.upper()} minus the whole-set {metric.upper()}", xlabel="epoch",
                       ylabel="difference")
    fig.suptitle("metrics: each method's F1 and AUROC minus the whole-set value, per epoch")
    fig.tight_layout()
    return fig


def shards_table(result: RunResult) -> Html:
    """What each rank validated on: its batches and samples.

    Args:
        result: the topic's run.

    Returns:
        One row per implementation and rank: the batch sizes of its last validation and the
        samples they hold.
    """
    rows = [[LABELS[kind], rank["rank"], ", ".join(map(str, rank["val_batches"])), rank["val_samples"]]
            for kind in result.kinds() for rank in result.value(kind, "ranks")]
    return table(["implementation", "rank", "validation batch sizes", "validation samples"], rows)
