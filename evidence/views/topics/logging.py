"""Views of the page "Logging and experiment tracking" (``gallery/topics/04_logging``).

Every view reads what the programs read back from their own CSV and TensorBoard files after
training (``csv.<metric>`` and ``tensorboard.<metric>``, each ``{"step": [...], "value": [...]}``),
the files they listed, and the batch sizes they saw.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, codes, figures, paragraph, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from evidence.results import RunResult

SOURCES = {"csv": "o", "tensorboard": "x"}
"""The two formats every program writes, with the marker of their per-step series."""

EPOCH_METRICS = {"train_loss_epoch": "s", "val_loss": "^"}
"""The epoch-level metrics, with the marker of their series."""


def shorten(name: str) -> str:
    """A file name with the run-specific tail of a TensorBoard event file cut off.

    Args:
        name: a path relative to the log folder.

    Returns:
        The path, ``events.out.tfevents.<time>.<host>.<pid>.<n>`` shortened to
        ``events.out.tfevents.…``.
    """
    return re.sub(r"tfevents\..*$", "tfevents.…", name)


def run_summary(result: RunResult) -> Html:
    """What the headline run did, in one sentence read from the plain program's result.

    Args:
        result: the topic's headline run; the plain program returns its ``batch_sizes`` and
            its CSV series.

    Returns:
        A paragraph: epochs, optimizer steps per epoch and the batch sizes of one epoch.
    """
    epochs = len(result.value("pytorch", "csv.train_loss_epoch.value"))
    sizes = result.value("pytorch", "batch_sizes")
    per_epoch = sizes[: len(sizes) // epochs]
    return paragraph(f"{epochs} epochs of {len(per_epoch)} optimizer steps each: {sum(per_epoch)} training rows "
                     f"in batches of {per_epoch[0]}, the last of which holds {per_epoch[-1]} rows. The Lightning ",
                     Code("Trainer"), " logs every step (", Code("log_every_n_steps=1"), ", see the pitfalls).")


def files_table(result: RunResult) -> Html:
    """Every file each program left in its log folder, with its size.

    Args:
        result: the topic's headline run; every program returns ``files``, a list of
            ``{"name", "bytes"}``.

    Returns:
        A table with one row per file.
    """
    rows = [[LABELS[kind], Code(shorten(f["name"])), f["bytes"]]
            for kind in result.kinds() for f in result.value(kind, "files")]
    return table(["implementation", "file", "bytes"], rows)


def curves(result: RunResult) -> Figure:
    """The metrics read back from both files of every program, overlaid.

    Left: the per-step training loss from the CSV and the event file of each program. Right:
    the epoch-level values, at the step number they were logged with.

    Args:
        result: the topic's headline run.

    Returns:
        The two-panel figure.
    """
    fig, (left, right) = figures.panels(2, height=3.8)
    for kind in result.kinds():
        for source, marker in SOURCES.items():
            series = result.value(kind, f"{source}.train_loss_step")
            figures.overlay(left, kind, series["step"], series["value"], label=f"{LABELS[kind]} ({source})",
                            marker=marker, markersize=4)
            for metric, shape in EPOCH_METRICS.items():
                series = result.value(kind, f"{source}.{metric}")
                figures.overlay(right, kind, series["step"], series["value"], marker=shape, markersize=5,
                                label=f"{LABELS[kind]} {metric} ({source})")
    figures.finish(left, title="train_loss_step", xlabel="logged step", ylabel="loss", legend=False)
    figures.finish(right, title="train_loss_epoch and val_loss", xlabel="logged step", ylabel="loss", legend=False)
    left.legend(fontsize=7)
    right.legend(fontsize=6, ncol=2)
    fig.suptitle("logging: metrics read back from the CSV and TensorBoard files of every implementation")
    fig.tight_layout()
    return fig


def epoch_means(result: RunResult, kind: str) -> list[dict]:
    """Each epoch's logged ``train_loss_epoch`` beside the means recomputed from the logged steps.

    The per-step values a program wrote to its CSV are grouped by epoch (every epoch has as
    many steps) and averaged twice: weighted by the batch sizes the program saw, and plainly.

    Args:
        result: the topic's headline run.
        kind: the implementation.

    Returns:
        One ``{"epoch", "logged", "weighted", "plain"}`` per epoch, epochs counted from 1.
    """
    steps = result.value(kind, "csv.train_loss_step")["value"]
    sizes = result.value(kind, "batch_sizes")
    logged = result.value(kind, "csv.train_loss_epoch")["value"]
    per_epoch = len(steps) // len(logged)
    means = []
    for epoch, value in enumerate(logged):
        chunk = slice(epoch * per_epoch, (epoch + 1) * per_epoch)
        weighted = sum(v * n for v, n in zip(steps[chunk], sizes[chunk])) / sum(sizes[chunk])
        means.append({"epoch": epoch + 1, "logged": value, "weighted": weighted,
                      "plain": sum(steps[chunk]) / per_epoch})
    return means


def epoch_mean_table(result: RunResult) -> Html:
    """The logged epoch mean against the weighted and the unweighted mean of the logged steps.

    Args:
        result: the topic's headline run.

    Returns:
        A table with one row per implementation and epoch (see `epoch_means`).
    """
    rows = [[LABELS[kind], m["epoch"], f"{m['logged']:.7f}", f"{m['weighted']:.7f}",
             f"{abs(m['logged'] - m['weighted']):.1e}", f"{m['plain']:.7f}", f"{abs(m['logged'] - m['plain']):.1e}"]
            for kind in result.kinds() for m in epoch_means(result, kind)]
    return table(["implementation", "epoch", "logged train_loss_epoch", "weighted mean of logged steps",
                  "|difference|", "unweighted mean", "|difference|"], rows)


def steps_table(result: RunResult) -> Html:
    """The step numbers each metric was logged at, the CSV columns and the TensorBoard tags.

    Args:
        result: the topic's headline run; every program returns ``csv_columns`` and
            ``tensorboard_tags`` besides the series.

    Returns:
        A table with one row per implementation.
    """
    rows = []
    for kind in result.kinds():
        per_step = result.value(kind, "csv.train_loss_step.step")
        rows.append([LABELS[kind], f"{per_step[0]} – {per_step[-1]}",
                     ", ".join(map(str, result.value(kind, "csv.train_loss_epoch.step"))),
                     codes(result.value(kind, "csv_columns")), codes(result.value(kind, "tensorboard_tags"))])
    return table(["implementation", "steps of train_loss_step", "steps of the epoch values", "CSV columns",
                  "TensorBoard scalar tags"], rows)
