"""Views of the page "Training by steps" (``gallery/topics/25_step_training``).

Every program trains ``max_steps`` optimizer steps without a break, validating every
``val_every`` steps and saving a checkpoint every ``ckpt_every`` steps; then it starts again as a
new process would and resumes from the checkpoint of step ``resume_from``, which lies inside an
epoch. It returns its resumed weights' difference from its uninterrupted ones
(``resume_difference``, ``bitwise_equal``), the validation losses and the steps they were taken
at (``history``, ``uninterrupted_history``), the checkpoint files, where in its epoch the
checkpoint was taken (``checkpoint_epoch``, ``checkpoint_batch``) and the warnings the resumed
training raised (``warnings``: category and message).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, Strong, codes, difference, figures, paragraph, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from evidence.results import RunResult


def arguments(result: RunResult, kind: str) -> dict:
    """The ``run()`` arguments one implementation got: the run's params with its overrides."""
    return {**result.params, **result.run.overrides.get(kind, {})}


def plan(result: RunResult) -> Html:
    """What each ``run()`` trains, in this run's numbers.

    Args:
        result: A run of the topic.

    Returns:
        A paragraph: the steps, the batches per epoch and the epochs they span, when validation and
        checkpoints happen, and where in its epoch the resumed checkpoint lies.
    """
    params, kind = result.params, result.kinds()[0]
    steps, per_epoch = params["max_steps"], result.value(kind, "batches_per_epoch")
    full, rest = divmod(steps, per_epoch)
    epoch, batch = result.value(kind, "checkpoint_epoch"), result.value(kind, "checkpoint_batch")
    return paragraph(
        f"Each run() trains twice. First {steps} optimizer steps without a break: {per_epoch} batches per epoch, so "
        f"{full} full epochs and {rest} batches of the next; validation every {params['val_every']} steps and a "
        f"checkpoint every {params['ckpt_every']} (", codes(result.value(kind, "checkpoints")), "). Then a fresh start "
        "that loads ", Code(result.value(kind, "resumed_from")), f" and trains to step {steps}. That checkpoint was "
        f"taken after batch {batch} of the {per_epoch} of epoch {epoch} (counting from 0): the resumed training has "
        f"to continue with batch {batch + 1} of that epoch's order, then start the next epoch.")


def resume_table(result: RunResult) -> Html:
    """Resumed against uninterrupted, in each implementation.

    Args:
        result: A run of the topic.

    Returns:
        A table with a row per implementation: the loader it trained on, where the checkpoint
        was taken, the step the resumed training ended at, whether its weights equal the
        uninterrupted run's bit for bit, and the largest difference.
    """
    rows = []
    for kind in result.kinds():
        args = arguments(result, kind)
        loader = ("ResumableLoader (state saved in the checkpoint)" if args.get("resumable", True)
                  else "torch DataLoader (no state)") if kind == "lightning" else "DataLoader, position saved by the loop"
        equal = result.value(kind, "bitwise_equal")
        rows.append([LABELS[kind], loader, f"epoch {result.value(kind, 'checkpoint_epoch')}, batch "
                     f"{result.value(kind, 'checkpoint_batch')}", result.value(kind, "global_step"),
                     "yes" if equal else Strong("no"), difference(result.value(kind, "resume_difference"))])
    return table(["implementation", "training loader", "checkpoint taken after", "resumed run ended at step",
                  "bitwise equal to uninterrupted", "max |resumed − uninterrupted|"], rows)


def warnings_table(*runs: RunResult) -> Html:
    """The warnings each implementation's resumed training raised, per run.

    Args:
        *runs: Runs of the topic.

    Returns:
        A table with a row per warning (or one saying none) for each run and implementation.
    """
    rows = []
    for run in runs:
        for kind in run.kinds():
            caught = run.value(kind, "warnings")
            if not caught:
                rows.append([Code(run.run.name), LABELS[kind], "–", "none"])
            for warning in caught:
                rows.append([Code(run.run.name), LABELS[kind], Code(warning["category"]), warning["message"]])
    return table(["run", "implementation", "category", "message"], rows,
                 caption="Warnings raised while the resumed training ran (user warnings only).")


def curves_figure(*runs: RunResult) -> Figure:
    """Validation loss against optimizer step: the resumed runs of every implementation over the uninterrupted one.

    Args:
        *runs: Runs of the topic, one panel each.

    Returns:
        The matplotlib figure; a dotted vertical line marks the step the training resumed from.
    """
    fig, axes = figures.panels(len(runs), width=7.5, sharey=True)
    for ax, run in zip(axes, runs):
        reference = run.value(run.kinds()[0], "uninterrupted_history")
        ax.plot(reference["val_step"], reference["val_loss"], color="#222222", linewidth=1, label="uninterrupted")
        ax.axvline(run.params["resume_from"], color="#999999", linestyle=":", linewidth=1)
        for kind in run.kinds():
            figures.overlay(ax, kind, run.value(kind, "history.val_step"), run.value(kind, "history.val_loss"),
                            label=f"{LABELS[kind]}, resumed")
        figures.finish(ax, title=f"run {run.run.name}", xlabel="optimizer step (dotted: resumed from here)",
                       ylabel="validation loss")
    fig.suptitle("Validation loss: every implementation's resumed run over the uninterrupted one")
    fig.tight_layout()
    return fig
