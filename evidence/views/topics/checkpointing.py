"""Views of the page "Keeping the best checkpoints" (``gallery/topics/05_checkpointing``).

Every program returns the files it kept and, for each checkpoint file, a description of what
it read back from it (``checkpoints.<file>``): the file's size and, per top-level key, the type,
the value of a number or a string, and for containers the keys, the number of tensors and their
bytes (one level further down under ``items``, and the tensor shapes of a state dict under
``shapes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Cell, Code, Em, Html, Joined, Lines, admonition, codes, figures, number, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from evidence.results import RunResult

WEIGHTS_KEY = {"pytorch": "model", "lightning": "state_dict", "fabric": "model"}
"""The key of a checkpoint file that holds the network's weights, per implementation."""

LIGHTNING_EXTRAS = ("loops", "callbacks", "hyper_parameters")
"""Entries of a Lightning checkpoint the hand-written ones do not have, shown one level down."""


def kept_figure(result: RunResult) -> Figure:
    """The validation loss of every epoch, every implementation, with the kept epochs circled.

    Args:
        result: the topic's headline run; the circles mark plain PyTorch's ``kept_epochs``
            (the parity checks compare the other programs' with them).

    Returns:
        The figure.
    """
    fig, (ax,) = figures.panels(1, width=7, height=3.6)
    for kind in result.kinds():
        val_loss = result.value(kind, "history.val_loss")
        figures.overlay(ax, kind, range(len(val_loss)), val_loss)
    val_loss = result.value("pytorch", "history.val_loss")
    kept = result.value("pytorch", "kept_epochs")
    ax.scatter(kept, [val_loss[e] for e in kept], s=250, facecolors="none", edgecolors="red", linewidths=2,
               label=f"kept (top {len(kept)})", zorder=5)
    figures.finish(ax, xlabel="epoch (zero-based, as in the file names)", ylabel="validation loss")
    fig.suptitle("checkpointing: validation loss per epoch and the checkpoints kept")
    fig.tight_layout()
    return fig


def last_epochs(result: RunResult) -> dict[str, int]:
    """The epoch each implementation's ``last.ckpt`` holds, as it read the file back.

    Args:
        result: the topic's headline run.

    Returns:
        ``{kind: epoch}``, zero-based.
    """
    return {kind: result.value(kind, "checkpoints")["last.ckpt"]["keys"]["epoch"]["value"] for kind in result.kinds()}


def entered_top_k(val_loss: list[float], k: int) -> list[int]:
    """The epochs whose checkpoint entered the top ``k`` when they ran (a top-k file was written).

    An epoch enters while fewer than ``k`` are kept, or when its loss is strictly lower than the
    worst one kept, which it then pushes out (the rule of all three programs and of
    ``ModelCheckpoint``).

    Args:
        val_loss: the validation loss of every epoch, in order.
        k: how many checkpoints are kept.

    Returns:
        The zero-based epochs, in order.
    """
    kept: dict[int, float] = {}
    entered = []
    for epoch, value in enumerate(val_loss):
        if len(kept) < k or value < max(kept.values()):
            kept[epoch] = value
            entered.append(epoch)
            if len(kept) > k:
                del kept[max(kept, key=kept.get)]
    return entered


def kept_table(result: RunResult) -> Html:
    """The files left in each checkpoint folder, the epochs kept, the best file and ``last.ckpt``'s epoch.

    Args:
        result: the topic's headline run.

    Returns:
        A table with one row per implementation.
    """
    last = last_epochs(result)
    rows = [[LABELS[kind], codes(result.value(kind, "kept_files")), str(result.value(kind, "kept_epochs")),
             Code(result.value(kind, "best_file")), last[kind]]
            for kind in result.kinds()]
    return table(["implementation", "files kept", "top-k epochs", "best", "epoch inside last.ckpt"], rows)


def last_ckpt_finding(result: RunResult) -> Html:
    """Which epoch each ``last.ckpt`` holds, and why Lightning's may not be the final one, from the run.

    Args:
        result: the topic's headline run.

    Returns:
        An admonition whose every number comes from the run: the final epoch, the epoch in each
        implementation's ``last.ckpt``, the last epoch that entered the top k and the final
        epoch's validation loss against the worst one kept.
    """
    final = result.params["epochs"] - 1
    k = result.params["save_top_k"]
    last = last_epochs(result)
    val_loss = result.value("lightning", "history.val_loss")
    entered = entered_top_k(val_loss, k)
    by_hand = [kind for kind in result.kinds() if kind != "lightning"]
    held = ", ".join(str(e) for e in sorted({last[kind] for kind in by_hand}))
    where = "the final epoch" if {last[kind] for kind in by_hand} == {final} else f"not the final epoch {final}"
    hand = [f"{' and '.join(LABELS[kind] for kind in by_hand)} write ", Code("last.ckpt"),
            f" after every epoch, so theirs hold epoch {held}, {where} (epochs count from zero). Since Lightning "
            "2.6.0, "]
    same = "and Lightning's" if last["lightning"] == entered[-1] else "but Lightning's"
    rule = [Code("ModelCheckpoint(save_last=True)"), " writes it only when it saves a top-k checkpoint in the "
            f"same step; the last epoch that entered the top {k} here was epoch {entered[-1]}, {same} ",
            Code("last.ckpt"), f" holds epoch {last['lightning']}"]
    if last["lightning"] == final:
        title = ["Lightning's ", Code("last.ckpt"), " holds the final epoch in this run"]
        rule.append(".")
    else:
        worst = sorted(val_loss[:final])[k - 1] if final >= k else None
        title = ["Finding: Lightning's ", Code("last.ckpt"), f" holds epoch {last['lightning']}, not the final "
                 f"epoch {final}"]
        rule.append(f" (epoch {final}'s validation loss, {number(val_loss[final])}, did not beat the worst of the "
                    f"top {k} kept, {number(worst)}).")
    history = ["Lightning 2.0 to 2.5 wrote ", Code("last.ckpt"), " at every check, here at the end of every epoch, "
               f"so there it would hold epoch {final} as well (see the pitfalls for the change and what to write "
               "instead)."]
    return admonition("warning" if last["lightning"] != final else "info", title, hand + rule, history)


def describe(info: dict | None) -> str | Cell | None:
    """One top-level entry of a checkpoint, as a table cell.

    Args:
        info: the entry's description as a program returned it, or None where the file has no
            such key.

    Returns:
        The cell: None (shown as a dash) for a missing key; for a number or a string its type
        and its value as code; otherwise the type with the size of its contents.
    """
    if info is None:
        return None
    if info["type"] == "tensor":
        return f"tensor {info['shape']}, {info['tensor_bytes']} B"
    if "value" in info:
        value = info["value"]
        return Joined([f"{info['type']} ", Code(f"{value:.5g}" if isinstance(value, float) else value)], sep="")
    size = f"{info['tensors']} tensors, {info['tensor_bytes']} B" if info["tensors"] else "no tensors"
    if info["type"] == "list":
        return f"list of {info['length']}, {size}"
    return f"dict of {len(info['keys'])}, {size}"


def best_file(result: RunResult) -> str:
    """The name of the best checkpoint, the same file in every implementation (the parity checks say so)."""
    return result.value(result.kinds()[0], "best_file")


def contents_table(result: RunResult, file: str | None = None) -> Html:
    """Every top-level key of one checkpoint file, side by side for every implementation.

    Args:
        result: the topic's headline run.
        file: the checkpoint file, by its name in the checkpoint folder; by default the best one,
            which holds the same epoch in every implementation.

    Returns:
        A table with one row per key (Lightning's keys first, then those only the others have)
        and a last row with the file sizes.
    """
    file = file or best_file(result)
    contents = {kind: result.value(kind, "checkpoints")[file] for kind in result.kinds()}
    keys = list(contents["lightning"]["keys"]) + [k for k in contents["pytorch"]["keys"]
                                                  if k not in contents["lightning"]["keys"]]
    rows = [[Code(key)] + [describe(contents[kind]["keys"].get(key)) for kind in result.kinds()]
            for key in keys]
    rows.append([Em("file size")] + [f"{contents[kind]['file_bytes']:,} B" for kind in result.kinds()])
    return table(["key"] + [LABELS[kind] for kind in result.kinds()], rows)


def weights_table(result: RunResult, file: str | None = None) -> Html:
    """The network's tensors in one checkpoint file: each implementation's key and the shape.

    Args:
        result: the topic's headline run.
        file: the checkpoint file, by its name in the checkpoint folder; by default the best one.

    Returns:
        A table with one row per tensor, in the order the files hold them.
    """
    file = file or best_file(result)
    shapes = {kind: result.value(kind, "checkpoints")[file]["keys"][WEIGHTS_KEY[kind]]["shapes"]
              for kind in result.kinds()}
    rows = [[Code(name) for name in names] + [str(shapes["pytorch"][names[0]])]
            for names in zip(*(list(shapes[kind]) for kind in result.kinds()))]
    return table([LABELS[kind] + " key" for kind in result.kinds()] + ["shape"], rows)


def lightning_extras_table(result: RunResult, file: str | None = None) -> Html:
    """What the entries only Lightning writes hold, one level down, and the checkpoint callback's state.

    Args:
        result: the topic's headline run.
        file: the checkpoint file, by its name in the checkpoint folder; by default the best one.

    Returns:
        A table with one row per entry, its keys one per line.
    """
    extra = result.value("lightning", "checkpoints")[file or best_file(result)]["keys"]
    rows = [[Code(key), Lines(Code(sub) for sub in extra[key]["keys"]) if extra[key]["keys"] else "(empty)"]
            for key in LIGHTNING_EXTRAS]
    callback = next(iter(extra["callbacks"]["items"].values()))
    rows.append([Code("callbacks → ModelCheckpoint"), Lines(Code(sub) for sub in callback["keys"])])
    return table(["key", "holds"], rows)
