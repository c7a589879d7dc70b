"""Views of the hyperparameters page (``gallery/topics/19_hyperparameters/plot_hyperparameters.py``).

Each program saves one checkpoint, reads it back and returns its file name (``checkpoint``),
its top-level keys (``checkpoint_keys``) and size (``checkpoint_bytes``), the hyperparameters
stored in it (``saved_hparams``) and whether the model rebuilt from it predicts what the trained
one did (``reload_identical``, ``reload_difference``, ``predictions``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, codes, difference, paragraph, table

if TYPE_CHECKING:
    from evidence.results import RunResult

COUNTERPARTS = {"state_dict": ("state_dict", "model"), "optimizer_states": ("optimizer",),
                "hyper_parameters": ("config",)}
"""Lightning's checkpoint keys that hold what the hand-written checkpoints hold under another name
(the weights, the optimizer state, the hyperparameters), with those names."""

LIGHTNING_ONLY = {
    "loops": "the state of the fit, validate, test and predict loops",
    "callbacks": "each callback's state",
    "lr_schedulers": "the schedulers' states",
    "epoch": "the epoch counter",
    "global_step": "the optimizer step counter",
    "pytorch-lightning_version": "the version that wrote the file",
    "hparams_name": "the name of the hyperparameters' attribute",
}
"""What each top-level key that only a Lightning checkpoint has holds (from ``dump_checkpoint`` in
``pytorch_lightning/trainer/connectors/checkpoint_connector.py``)."""


def checkpoint_table(result: RunResult) -> Html:
    """What each checkpoint holds: file name, top-level keys and saved hyperparameters (as JSON).

    Args:
        result: the run.

    Returns:
        The table, one row per implementation.
    """
    rows = [[LABELS[kind], Code(result.value(kind, "checkpoint")), f"{result.value(kind, 'checkpoint_bytes'):,} B",
             codes(result.value(kind, "checkpoint_keys")),
             Code(json.dumps(result.value(kind, "saved_hparams"), sort_keys=True))]
            for kind in result.kinds()]
    return table(["implementation", "checkpoint file", "file size", "top-level keys", "saved hyperparameters"], rows)


def sizes_sentence(result: RunResult) -> Html:
    """What sets Lightning's checkpoint apart, from the run: the file sizes and the keys only it has.

    Args:
        result: the run.

    Returns:
        A paragraph: the files from largest to smallest, which other checkpoints hold the
        optimizer state too, and the keys only Lightning's holds (its keys without a counterpart
        in `COUNTERPARTS`).
    """
    sizes = {kind: result.value(kind, "checkpoint_bytes") for kind in result.kinds()}
    order = sorted(sizes, key=sizes.get, reverse=True)
    keys = {kind: set(result.value(kind, "checkpoint_keys")) for kind in result.kinds()}
    parts = ["File sizes in this run: " + ", ".join(f"{LABELS[k]} {sizes[k]:,} B" for k in order) + ". "]
    with_optimizer = [k for k in result.kinds() if k != "lightning" and keys[k] & set(COUNTERPARTS["optimizer_states"])]
    if with_optimizer:
        parts += [" and ".join(LABELS[k] for k in with_optimizer) + "'s checkpoint holds the optimizer state too (",
                  Code("optimizer"), "), so that is not what sets Lightning's apart. "]
    only = sorted(keys["lightning"] - set(COUNTERPARTS))
    parts.append("What only Lightning's holds: ")
    for i, key in enumerate(only):
        parts += [Code(key), f" ({LIGHTNING_ONLY.get(key, 'not described here')})", ", " if i < len(only) - 1 else ". "]
    parts += [Code("trainer.fit(ckpt_path=...)"), " restores the loop, callback and scheduler states from them to "
              "resume a run; ", Code("Trainer.save_checkpoint(path, weights_only=False)"), ", as here, writes them whether "
              "or not you will resume."]
    return paragraph(*parts)


def reload_table(result: RunResult) -> Html:
    """Whether the model rebuilt from each checkpoint predicts bit for bit what the trained one did.

    Args:
        result: the run.

    Returns:
        The table, one row per implementation, with the shape of the logits compared.
    """
    rows = []
    for kind in result.kinds():
        predictions = result.value(kind, "predictions")
        rows.append([LABELS[kind], result.value(kind, "reload_identical"),
                     difference(result.value(kind, "reload_difference")),
                     f"{len(predictions)} × {len(predictions[0])}"])
    return table(["implementation", "bitwise identical after reload", "max |difference|", "logits compared"], rows)
