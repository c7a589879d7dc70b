"""Views of the reproducibility page (``gallery/topics/13_reproducibility/plot_reproducibility.py``).

Each reproducibility program trains ``runs`` times in one call and returns the hash of every
run's final weights (``weight_digests``), the largest difference between the first two runs
(``run_difference``), counts of the augmentation scale factors its DataLoader workers drew
(``distinct_draws`` of ``total_draws``, ``batches_with_a_twin``,
``epochs_repeating_epoch_1``) and the factors of the first batches of every epoch
(``first_batches``). These views show them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.results import RunResult
from evidence.views import Html, Strong, codes, difference, figures, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DRAW_HEADERS = ["distinct scale factors", "batches that drew the same as another", "later epochs repeating epoch 1"]


def runs_table(result: RunResult) -> Html:
    """Whether the runs of each program, in one call, ended with bitwise the same weights.

    Args:
        result: a run of the programs with ``runs`` of 2 or more.

    Returns:
        One row per implementation: max |run 1 − run 2|, the weight hashes and the verdict.
    """
    rows = []
    for kind in result.kinds():
        digests = result.value(kind, "weight_digests")
        gap = result.value(kind, "run_difference")
        verdict = "bitwise identical" if len(set(digests)) == 1 and gap == 0 else Strong("DIFFERENT")
        rows.append([LABELS[kind], difference(gap), codes(digests, sep=" / "), verdict])
    return table(["implementation", "max |run 1 − run 2|", "weight hashes", "verdict"], rows)


def _draws(result: RunResult, kind: str) -> list:
    return [f"{result.value(kind, 'distinct_draws')} of {result.value(kind, 'total_draws')}",
            result.value(kind, "batches_with_a_twin"), result.value(kind, "epochs_repeating_epoch_1")]


def draws_by_configuration(configurations: dict[str, RunResult]) -> Html:
    """The scale factors the workers drew, per configuration and implementation.

    Args:
        configurations: runs of the programs by the label of their configuration, in row order.

    Returns:
        One row per configuration and implementation: distinct factors of all drawn, batches
        that drew the same factors as another batch, later epochs repeating the first.
    """
    rows = [[label, LABELS[kind], *_draws(result, kind)]
            for label, result in configurations.items() for kind in result.kinds()]
    return table(["configuration", "implementation", *DRAW_HEADERS], rows)


def draws_table(result: RunResult) -> Html:
    """The scale factors the workers drew in one run, per implementation.

    Args:
        result: a run of the programs.

    Returns:
        The columns of :func:`draws_by_configuration`, without the configuration.
    """
    return table(["implementation", *DRAW_HEADERS], [[LABELS[kind], *_draws(result, kind)] for kind in result.kinds()])


def first_batches_figure(seeded: RunResult, shared: RunResult, kind: str = "pytorch") -> Figure:
    """The scale factors of the first two batches of every epoch, in two configurations.

    Args:
        seeded: a run with the global NumPy RNG in seeded workers.
        shared: a run with a NumPy ``Generator`` stored on the Dataset.
        kind: the implementation whose draws are drawn.

    Returns:
        The figure: one panel per run, one line per epoch and batch (batch 1 comes from worker
        0, batch 2 from worker 1).
    """
    fig, axes = figures.panels(2, sharey=True)
    for ax, result, title in ((axes[0], seeded, "global NumPy RNG, seeded workers"),
                              (axes[1], shared, "Generator stored on the Dataset")):
        for epoch, batches in enumerate(result.value(kind, "first_batches")):
            for b, batch in enumerate(batches[:2]):
                ax.plot(batch, marker="os"[b], linestyle="-" if b == 0 else ":", alpha=0.8,
                        label=f"epoch {epoch + 1}, batch {b + 1} (worker {b})")
        figures.finish(ax, title=title, xlabel="sample within the batch", legend=False)
    axes[0].set_ylabel("scale factor drawn")
    axes[1].legend(fontsize=7)
    fig.suptitle("Scale factors drawn by the two workers: with a shared Generator the lines coincide")
    fig.tight_layout()
    return fig
