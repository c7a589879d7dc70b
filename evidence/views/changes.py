"""The changes at a glance: only the parts where Lightning (or Fabric) differs from plain PyTorch.

The programs are compared line by line (surrounding whitespace ignored, in order); each run of
differing lines, with the few equal lines between runs close together, is a *hunk*, shown as
the plain PyTorch lines beside the framework's lines (stacked on a phone). A hunk whose lines
are all blank, comments, docstrings or code the line count leaves out is not shown. Each hunk
gets a one-line caption: the `CAPTIONS` rule whose pattern appears earliest in the
framework's lines says what the framework does there; failing that, a `PLAIN_CAPTIONS`
rule says what the plain lines do by hand.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass

from pathlib import Path

from evidence.programs import LABELS, SNIPPETS_DIR, programs
from evidence.source import counted_lines, distinct_lines
from evidence.views.code import highlighted

MERGE_GAP = 3
"""Equal lines between two runs of changes up to which they are shown as one hunk."""

CAPTIONS: list[tuple[str, str]] = [
    # (regular expression searched in the framework's lines, caption): the earliest match wins
    (r"import pytorch_lightning|from pytorch_lightning|import lightning_fabric|from lightning_fabric",
     "The framework's import (the pytorch_lightning package also ships lightning_fabric)."),
    (r"class \w+\(pl\.LightningDataModule\)|LightningDataModule",
     "A LightningDataModule bundles the data: prepare_data, setup and the loaders, which the Trainer calls."),
    (r"def prepare_data", "prepare_data runs once per node (local rank 0) before setup; download or check files there."),
    (r"def configure_optimizers", "configure_optimizers returns the optimizer (and scheduler); the Trainer steps them."),
    (r"def training_step", "training_step is the body of the batch loop: the Trainer calls it, then zeroes the "
                           "gradients, runs backward and steps the optimizer."),
    (r"def validation_step", "validation_step runs in eval mode under no_grad; the Trainer loops over the "
                             "validation loader."),
    (r"def test_step|def predict_step", "test_step and predict_step: the Trainer runs them in eval mode, "
                                        "without gradients, in trainer.test and trainer.predict."),
    (r"manual_backward|automatic_optimization", "Manual optimization: you step the optimizers yourself; "
                                                "manual_backward handles precision and strategy."),
    (r"save_hyperparameters", "save_hyperparameters records the __init__ arguments in every checkpoint; "
                              "load_from_checkpoint rebuilds the module from them."),
    (r"load_from_checkpoint", "load_from_checkpoint rebuilds the module from the hyperparameters saved in the file."),
    (r"ModelCheckpoint", "ModelCheckpoint ranks the checkpoints by the monitored value and keeps the best k."),
    (r"EarlyStopping", "EarlyStopping checks the monitored value after each validation (in on_train_epoch_end with the "
                        "default once-per-epoch validation) and stops the Trainer."),
    (r"LearningRateMonitor", "LearningRateMonitor logs each scheduler's learning rate to the loggers."),
    (r"class \w+\(\w*Callback\)|pl\.Callback", "A Callback holds code the Trainer calls at fixed points of the loop."),
    (r"ckpt_path", "fit(ckpt_path=...) restores weights, optimizer, schedulers, loop counters and callback states."),
    (r"self\.log\(|self\.log_dict\(", "self.log collects a value; with on_epoch=True the Trainer averages it "
                                      "over the epoch, weighted by batch size."),
    (r"\w*Logger\(", "A logger writes what self.log collects (CSV, TensorBoard, ...); the Trainer calls it."),
    (r"gradient_clip_val|gradient_clip_algorithm", "gradient_clip_val: the Trainer clips after backward, "
                                                   "before the optimizer step."),
    (r"accumulate_grad_batches", "accumulate_grad_batches: the Trainer steps and zeroes every k batches."),
    (r"precision=", "precision=: the Trainer or Fabric runs the forward under autocast (and scales fp16 losses)."),
    (r"strategy=|num_nodes=", "strategy= and devices=: the framework starts the processes and wraps the model."),
    (r"profiler=", "profiler=: the Trainer times its own actions and hooks."),
    (r"fast_dev_run|overfit_batches|limit_train_batches|limit_val_batches|detect_anomaly",
     "A debugging switch of the Trainer: fewer batches, or anomaly detection, without changing your code."),
    (r"deterministic=", "deterministic=True switches on deterministic algorithms (and cuBLAS's workspace setting)."),
    (r"seed_everything", "seed_everything seeds Python, NumPy and torch (and, with workers=True, the loader workers)."),
    (r"fabric\.save|fabric\.load", "fabric.save and fabric.load turn modules and optimizers into state dicts and back."),
    (r"fabric\.setup_dataloaders", "Fabric's loaders move every batch to the device (and shard them across processes)."),
    (r"fabric\.setup\(", "fabric.setup moves the model to the device and wraps model and optimizer for "
                         "precision and strategy."),
    (r"fabric\.backward", "fabric.backward runs backward with the precision and strategy Fabric was given."),
    (r"fabric\.clip_gradients", "fabric.clip_gradients clips (unscaling fp16 gradients first)."),
    (r"fabric\.(log|log_dict)", "fabric.log sends values to Fabric's loggers, from rank 0."),
    (r"fabric\.print|self\.print", "fabric.print and self.print print from rank 0 only: one line per job, "
                                    "not one per process."),
    (r"Fabric\(", "Fabric(...) names the device, precision and strategy; your loop stays yours."),
    (r"\.fit\(", "trainer.fit runs the epoch, batch and validation loops."),
    (r"Trainer\(", "The Trainer holds the loop settings: epochs, device, and which of its defaults are on."),
    (r"class \w+\(pl\.LightningModule\)|LightningModule", "The model lives in a LightningModule, with its steps "
                                                          "and its optimizer."),
]
"""Captions by the framework API a hunk uses. Each says what the framework does there, checked
against Lightning 2.6's source."""

PLAIN_CAPTIONS: list[tuple[str, str]] = [
    (r"\.to\(dev|\.to\(device|torch\.device", "The plain program moves model and batches to the device itself."),
    (r"for epoch in|for \w+, \w+ in \w*loader", "The plain program writes the loops the framework runs for you."),
    (r"\.backward\(\)|optimizer\.step\(\)|zero_grad\(\)", "The plain program zeroes, backpropagates and steps by hand."),
    (r"model\.eval\(\)|model\.train\(\)|no_grad|inference_mode", "The plain program switches modes and "
                                                                 "gradient tracking by hand."),
]
"""Captions by what the plain lines do, for a hunk whose framework lines use none of the APIs
above (the framework side is empty, or plain code differs)."""

FALLBACK = "The same work, written the way this style writes it."


@dataclass
class Hunk:
    """Lines of the plain program and the framework's program that differ, side by side."""

    plain: list[tuple[int, str]]
    framework: list[tuple[int, str]]
    caption: str


def _caption(framework: str, plain: str) -> str:
    """The caption of the `CAPTIONS` rule that matches earliest in the framework's lines
    (rule order breaks ties), else of the `PLAIN_CAPTIONS` rule that matches earliest in
    the plain lines, else `FALLBACK`."""
    for rules, text in ((CAPTIONS, framework), (PLAIN_CAPTIONS, plain)):
        matches = [(m.start(), order, caption) for order, (pattern, caption) in enumerate(rules)
                   if (m := re.search(pattern, text))]
        if matches:
            return min(matches)[2]
    return FALLBACK


def hunks(plain_source: str, framework_source: str) -> list[Hunk]:
    """The hunks where ``framework_source`` differs from ``plain_source`` (see the module)."""
    a, b = plain_source.splitlines(), framework_source.splitlines()
    counted_a, counted_b = counted_lines(plain_source), counted_lines(framework_source)
    matcher = difflib.SequenceMatcher(a=[x.strip() for x in a], b=[x.strip() for x in b], autojunk=False)
    groups: list[list[tuple]] = []
    for op in matcher.get_opcodes():
        tag, i1, i2, j1, j2 = op
        if tag == "equal" or not (set(range(i1 + 1, i2 + 1)) & counted_a or set(range(j1 + 1, j2 + 1)) & counted_b):
            continue  # equal, or only blank lines, comments, docstrings or code the count leaves out
        if groups and i1 - groups[-1][-1][2] <= MERGE_GAP and j1 - groups[-1][-1][4] <= MERGE_GAP:
            groups[-1].append(op)
        else:
            groups.append([op])
    found = []
    for group in groups:
        plain = _trim([(n + 1, a[n]) for n in range(group[0][1], group[-1][2])], counted_a)
        framework = _trim([(n + 1, b[n]) for n in range(group[0][3], group[-1][4])], counted_b)
        found.append(Hunk(plain, framework, _caption("\n".join(x for _, x in framework), "\n".join(x for _, x in plain))))
    return found


def _trim(lines: list[tuple[int, str]], counted: set[int]) -> list[tuple[int, str]]:
    """Drop the lines at either end that the line count leaves out."""
    while lines and lines[0][0] not in counted:
        lines = lines[1:]
    while lines and lines[-1][0] not in counted:
        lines = lines[:-1]
    return lines


def _side(label: str, lines: list[tuple[int, str]]) -> str:
    if not lines:
        return (f'<div class="change-side"><div class="change-label">{html.escape(label)}</div>'
                '<p class="change-none">nothing here</p></div>')
    span = f"line {lines[0][0]}" if len(lines) == 1 else f"lines {lines[0][0]}–{lines[-1][0]}"
    code = _dedent([text for _, text in lines])
    return (f'<div class="change-side"><div class="change-label">{html.escape(label)}, {span}</div>'
            f"{highlighted(code)}</div>")


def _dedent(lines: list[str]) -> str:
    widths = [len(x) - len(x.lstrip()) for x in lines if x.strip()]
    cut = min(widths) if widths else 0
    return "\n".join(x[cut:] for x in lines)


def changes(topic: str, place=lambda html_block: html_block) -> str:
    """Markdown for the changes-only view of ``topic``: one tab per implementation (linked
    with the program tabs), each listing the hunks against plain PyTorch with their captions.

    ``place(html) -> str`` returns what stands in the Markdown for each hunk's HTML: inside a
    tab, Markdown would parse raw HTML as text (emphasis, references), so the MkDocs hooks put a
    placeholder there and the HTML in after rendering.
    """
    found = {p.kind: p for p in programs(topic)}
    if "pytorch" not in found or len(found) < 2:
        return ""
    plain = found["pytorch"].source
    tabs = ['=== "PyTorch"\n\n    The reference: pick **Lightning** or **Fabric** to see only the lines where '
            "that program differs from this one.\n"]
    for kind, program in found.items():
        if kind == "pytorch":
            continue
        shown = hunks(plain, program.source)
        blocks = []
        for number, hunk in enumerate(shown, start=1):
            blocks.append("    " + place(
                f'<figure class="change"><figcaption><strong>{number}.</strong> {html.escape(hunk.caption)}'
                f'</figcaption><div class="change-sides">{_side("PyTorch", hunk.plain)}'
                f"{_side(LABELS[kind], hunk.framework)}</div></figure>"))
        intro = (f"    {len(shown)} place(s) where `{program.path.name}` differs from "
                 f"`{found['pytorch'].path.name}`; everything else is the same code.\n")
        tabs.append(f'=== "{LABELS[kind]}"\n\n{intro}\n' + "\n\n".join(blocks) + "\n")
    return "\n".join(tabs)


def counterpart(kind: str) -> str:
    """The program a kind is compared with: plain PyTorch for the others, Lightning for PyTorch."""
    return "lightning" if kind == "pytorch" else "pytorch"


def highlight_lines(topic: str, root: Path = SNIPPETS_DIR) -> dict[str, list[int]]:
    """The lines each implementation does not share with its `counterpart`."""
    found = {p.kind: p.source for p in programs(topic, root)}
    result = {}
    for kind, source in found.items():
        other = found.get(counterpart(kind))
        result[kind] = distinct_lines(source, other) if other is not None else []
    return result
