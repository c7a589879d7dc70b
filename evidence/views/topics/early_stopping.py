"""Views of the early-stopping page (``gallery/topics/07_early_stopping/plot_early_stopping.py``).

The page shows where each implementation stopped and replays the stopping rule epoch by epoch
on the validation losses plain PyTorch recorded. The rule is computed here from the result's
values and the run's ``patience`` and ``min_delta``; the programs are not imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import math
from dataclasses import dataclass

from evidence.programs import LABELS
from evidence.results import RunResult
from evidence.views import Code, Html, Strong, figures, paragraph, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Check:
    """One epoch's early-stopping check, as the rule saw it."""

    epoch: int
    """Zero-based epoch."""
    value: float
    """The validation loss of that epoch."""
    threshold: float | None
    """The value the epoch had to be below to improve (``best - min_delta``); None before any best."""
    improved: bool
    """Whether the epoch became the new best (the waiting count returned to 0)."""
    wait: int
    """The waiting count after the check."""
    stop: bool
    """Whether training stopped after this epoch."""


def _setting(result: RunResult, name: str):
    return result.data["spec"]["params"][name]


def replay(val_loss: list[float], patience: int, min_delta: float) -> list[Check]:
    """The stopping rule applied to ``val_loss`` epoch by epoch, as Lightning 2.x applies it.

    An epoch improves if ``value + min_delta < best`` (strictly); then ``best = value`` and the
    waiting count returns to 0. Otherwise the count grows by one, and training stops when it
    reaches ``patience``. A non-finite value stops training at once.

    Args:
        val_loss: The validation loss of every epoch run, in order.
        patience: Checks without improvement before training stops.
        min_delta: By how much a value must beat the best so far to count as an improvement.

    Returns:
        One `Check` per epoch, ending at the first epoch that stops training.
    """
    best, wait, checks = math.inf, 0, []
    for epoch, value in enumerate(val_loss):
        threshold = None if math.isinf(best) else best - min_delta
        if not math.isfinite(value):
            checks.append(Check(epoch, value, threshold, False, wait, True))
            break
        improved = value + min_delta < best
        if improved:
            best, wait = value, 0
        else:
            wait += 1
        checks.append(Check(epoch, value, threshold, improved, wait, wait >= patience))
        if wait >= patience:
            break
    return checks


def result_checks(result: RunResult, kind: str = "pytorch") -> list[Check]:
    """The rule replayed on the validation losses one implementation recorded.

    Args:
        result: The early-stopping run.
        kind: The implementation whose ``history.val_loss`` is replayed.

    Returns:
        One `Check` per epoch that implementation ran.
    """
    return replay(result.value(kind, "history.val_loss"), _setting(result, "patience"),
                  _setting(result, "min_delta"))


def stop_summary(result: RunResult, kind: str = "pytorch") -> Html:
    """Where training stopped and which epochs decided it, in the run's own numbers.

    Args:
        result: The early-stopping run.
        kind: The implementation whose validation losses are replayed (the parity checks
            compare the others' stopping epochs with it).

    Returns:
        A paragraph: the stopping epoch of every implementation (or that none stopped early),
        the epoch that set the best score, each epoch that came lower than the best without
        beating it by more than ``min_delta``, and the patience reached.
    """
    epochs, patience, min_delta = (_setting(result, name) for name in ("epochs", "patience", "min_delta"))
    stops = result.values("stopped_epoch")
    checks = result_checks(result, kind)
    if len(set(stops.values())) == 1:
        who = "every implementation"
    else:
        who = "the implementations (" + ", ".join(f"{LABELS[k]} at {v}" for k, v in stops.items()) + ")"
    stopped = stops[kind]
    if stopped is None:
        return paragraph(f"In this run {who} ran all {epochs} epochs without stopping early.")
    best = max((c for c in checks if c.improved), key=lambda c: c.epoch)
    parts = [f"In this run {who} stopped after epoch {stopped} (epochs count from zero: {stopped + 1} of the "
             f"{epochs} allowed). The best score was set at epoch {best.epoch} ({best.value:.5f}). "]
    near = [c for c in checks if c.epoch > best.epoch and not c.improved and c.value < best.value]
    for c in near:
        parts += [f"Epoch {c.epoch} came lower ({c.value:.5f}) but not by more than ", Code(f"min_delta={min_delta}"),
                  ", so it was not adopted as the new best and did not reset the count. "]
    last = checks[-1]
    if last.stop and last.wait >= patience:
        parts += ["The count reached ", Code(f"patience={patience}"), f" at epoch {last.epoch}."]
    elif last.stop:
        parts += [f"Epoch {last.epoch}'s value was not finite, which stops training at once."]
    return paragraph(*parts)


def stops_table(result: RunResult) -> Html:
    """Where each implementation stopped: epoch, epochs and steps run, best score, waiting count.

    Args:
        result: The early-stopping run.

    Returns:
        A table with one row per implementation.
    """
    return result.per_implementation({
        "stopped_epoch": "stopped_epoch",
        f"epochs run (of {_setting(result, 'epochs')})": "epochs_run",
        "optimizer steps": "steps",
        "best score": lambda r: f"{r['best_score']:.5f}",
        "waiting count": "wait_count",
    })


def rule_table(result: RunResult, kind: str = "pytorch") -> Html:
    """The rule epoch by epoch: the loss, the threshold it had to beat, improved, count, stop.

    Args:
        result: The early-stopping run.
        kind: The implementation whose validation losses are replayed.

    Returns:
        A table with one row per epoch; the stopping epoch is marked ``stop``.
    """
    rows = [[c.epoch, f"{c.value:.5f}", None if c.threshold is None else f"{c.threshold:.5f}",
             c.improved, c.wait, Strong("stop") if c.stop else ""] for c in result_checks(result, kind)]
    return table(["epoch", "val_loss", "must be below", "improved", "waiting count", ""], rows)


def rule_figure(result: RunResult, kind: str = "pytorch") -> Figure:
    """Validation loss of every implementation, the improvement threshold and the stop.

    Args:
        result: The early-stopping run.
        kind: The implementation whose threshold and stopping epoch are drawn.

    Returns:
        The matplotlib figure.
    """
    fig, (ax,) = figures.panels(1, width=7.0, height=3.6)
    for each in result.kinds():
        series = result.value(each, "history.val_loss")
        figures.overlay(ax, each, range(len(series)), series)
    checks = result_checks(result, kind)
    thresholds = [(c.epoch, c.threshold) for c in checks if c.threshold is not None]
    if thresholds:
        ax.step(*zip(*thresholds), where="mid", color="gray", label="best − min_delta")
    stopped = result.value(kind, "stopped_epoch")
    if stopped is not None:
        ax.axvline(stopped, color="red", linestyle="--", label="stopped")
    val_loss = result.value(kind, "history.val_loss")
    if len(val_loss) > 1:
        ax.set_ylim(0, max(val_loss[1:]) * 1.3)
    figures.finish(ax, xlabel="epoch (zero-based)", ylabel="validation loss")
    fig.suptitle("Validation loss, improvement threshold and the stopping epoch")
    fig.tight_layout()
    return fig
