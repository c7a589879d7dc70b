"""Views of the reproducibility page (``gallery/topics/13_reproducibility/plot_reproducibility.py``).

Each reproducibility program trains ``runs`` times in one call and returns the hash of every
run's final weights (``weight_digests``), the largest difference between the first two runs
(``run_difference``), counts of the augmentation scale factors its DataLoader workers drew
(``distinct_draws`` of ``total_draws`` over ``epochs`` epochs, ``batches_with_a_twin``,
``epochs_repeating_epoch_1``, the pairs of batches of epoch 1 that drew the same factors,
``twin_batches_epoch_1``) and the factors of the first batches of every epoch
(``first_batches``). These views show them, and state in sentences what they show, so that no
outcome on the page is typed by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.results import RunResult
from evidence.views import Html, Strong, codes, difference, figures, paragraph, table

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


def _listing(items: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _same(values: list) -> bool:
    return all(v == values[0] for v in values)


def seeding_outcome(result: RunResult) -> Html:
    """Whether each program repeated itself, and which implementations ended with the same weights.

    Args:
        result: a run of the programs with ``runs`` of 2 or more.

    Returns:
        A paragraph: the programs whose runs were bitwise identical (or not), then the groups of
        implementations whose first runs ended with the same weight hash.
    """
    repeat = [LABELS[k] for k in result.kinds() if _same(result.value(k, "weight_digests"))
              and result.value(k, "run_difference") == 0]
    other = [LABELS[k] for k in result.kinds() if LABELS[k] not in repeat]
    first = f"every run of {_listing(repeat)} ended bitwise identical to that program's first run" if repeat else ""
    second = f"the runs of {_listing(other)} differ from each other" if other else ""
    groups: dict[str, list[str]] = {}
    for kind in result.kinds():
        groups.setdefault(result.value(kind, "weight_digests")[0], []).append(LABELS[kind])
    same = "; ".join(f"{_listing(g)} ended with the same weights" for g in groups.values() if len(g) > 1)
    alone = [g[0] for g in groups.values() if len(g) == 1]
    if len(groups) == 1:
        across = "All implementations ended with the same weights."
    else:
        across = (f"{same + '; ' if same else ''}{_listing(alone)} ended with weights of {'its' if len(alone) == 1 else 'their'} "
                  f"own.")
    return paragraph(f"In this run, {'; '.join(filter(None, [first, second]))}. {across[0].upper() + across[1:]}")


def parity_outcome(result: RunResult) -> Html:
    """One sentence: whether every implementation's final weights equal plain PyTorch's, bit for bit.

    Args:
        result: a run whose ``compare`` starts with ``state_dict``.

    Returns:
        A paragraph naming the implementations that match bitwise and those that do not.
    """
    checks = [c for c in result.parity_data["checks"] if c["metric"] == "state_dict"]
    equal = [LABELS[c["pair"][1]] for c in checks if c["value"] == 0]
    unequal = [LABELS[c["pair"][1]] for c in checks if c["value"] != 0]
    reference = LABELS[result.parity_data["reference"]]
    if not unequal:
        return paragraph(f"All three match bitwise: the final weights of {_listing(equal)} equal those of "
                         f"{reference} exactly.")
    return paragraph(f"The final weights of {_listing(unequal)} differ from those of {reference}"
                     + (f"; those of {_listing(equal)} equal them exactly." if equal else "."))


def draws_outcome(configurations: dict[str, RunResult]) -> Html:
    """One sentence: whether the scale factors drawn were all different, over how many epochs.

    Args:
        configurations: runs of the programs by the label of their configuration.

    Returns:
        A paragraph: for each configuration, whether every implementation drew only distinct
        factors over all its epochs, with the counts.
    """
    parts = []
    for label, result in configurations.items():
        kinds = result.kinds()
        epochs = {result.value(k, "epochs") for k in kinds}
        totals = {result.value(k, "total_draws") for k in kinds}
        distinct = [result.value(k, "distinct_draws") == result.value(k, "total_draws") for k in kinds]
        over = f"over all {_listing([str(e) for e in sorted(epochs)])} epochs"
        if all(distinct):
            parts.append(f"with {label}, all {_listing([str(t) for t in sorted(totals)])} scale factors each "
                         f"program drew {over} were different")
        else:
            repeated = [LABELS[k] for k, d in zip(kinds, distinct) if not d]
            parts.append(f"with {label}, {_listing(repeated)} drew some scale factors more than once {over}")
    text = "; ".join(parts)
    return paragraph(text[0].upper() + text[1:] + ".")


def twins_outcome(result: RunResult, kind: str = "pytorch") -> Html:
    """One sentence: which batches of epoch 1 drew the same factors, and how many later epochs repeated it.

    Args:
        result: a run of the programs.
        kind: the implementation whose draws are described.

    Returns:
        A paragraph naming the pairs of batches (1-based) with equal factors and the later epochs
        that drew exactly what epoch 1 drew.
    """
    pairs = result.value(kind, "twin_batches_epoch_1")
    later = result.value(kind, "epochs") - 1
    repeating = result.value(kind, "epochs_repeating_epoch_1")
    twins = (f"the pairs of batches {_listing([f'({a}, {b})' for a, b in pairs])} drew the same scale factors"
             if pairs else "no two batches drew the same scale factors")
    every = {1: "the one later epoch", 2: "both later epochs"}.get(later, f"all {later} later epochs")
    again = (f"{every} drew exactly what epoch 1 drew" if repeating == later and later else
             f"{repeating} of the {later} later epochs drew exactly what epoch 1 drew")
    return paragraph(f"In epoch 1 of the {LABELS[kind]} run, {twins}; {again}.")


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
        The columns of `draws_by_configuration`, without the configuration.
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
