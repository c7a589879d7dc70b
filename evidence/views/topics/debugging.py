"""Views of the debugging page (``gallery/topics/18_debugging/plot_debugging.py``).

Every program counts the training and validation batches it really ran (``train_batches``,
``val_batches``) and its optimizer steps (``steps``); with anomaly detection on it reports
where it stopped (``caught``: step, epoch, the error's first line and the forward call that
produced the NaN). These views compare the switches' runs and the caught NaN across programs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, difference, table

if TYPE_CHECKING:
    from evidence.results import RunResult

SWITCHES = ("fast_dev_run", "overfit_batches", "limit_train_batches", "limit_val_batches")
"""The run parameters that are debugging switches (the others are epochs and seed)."""


def switch_label(result: RunResult) -> str:
    """The switches a run was given, as ``Trainer`` arguments, read from its declaration.

    Args:
        result: a run of the debugging programs.

    Returns:
        ``fast_dev_run``, ``overfit_batches=2``, ... or ``no switch (N epochs)``.
    """
    params = result.run.params
    given = [name if value is True else f"{name}={value}" for name, value in params.items() if name in SWITCHES]
    return ", ".join(given) or f"no switch ({params.get('epochs')} epochs)"


def weight_check(result: RunResult, kind: str) -> str:
    """The final weights of ``kind`` against plain PyTorch's: difference and verdict.

    Args:
        result: a run that compared ``state_dict``.
        kind: an implementation kind.

    Returns:
        ``reference`` for the reference kind, else e.g. ``0.0 (identical)``.
    """
    for check in result.parity_data["checks"]:
        if check["metric"] == "state_dict" and check["pair"][1] == kind:
            return f"{difference(check['value'])} ({check['verdict']})"
    return "reference"


def switch_table(*results: RunResult) -> Html:
    """Batches and steps that really ran under each switch, and the weights against PyTorch's.

    Args:
        *results: runs of the debugging programs, each with its switches (or none).

    Returns:
        The table, one row per run and implementation.
    """
    rows = [[Code(switch_label(r)), LABELS[kind], r.value(kind, "train_batches"), r.value(kind, "val_batches"),
             r.value(kind, "steps"), weight_check(r, kind)]
            for r in results for kind in r.kinds()]
    return table(["switch", "implementation", "training batches", "validation batches", "optimizer steps",
                  "max |weight difference| vs PyTorch"], rows,
                 caption="Batches run over the whole call; 409 training rows make 13 batches of 32, "
                         "103 validation rows 4.")


def caught_table(result: RunResult) -> Html:
    """Where each program stopped on the injected NaN, and what it reported.

    Args:
        result: a run with anomaly detection on and a NaN injected.

    Returns:
        The table, one row per implementation.
    """
    rows = []
    for kind in result.kinds():
        caught = result.value(kind, "caught")
        rows.append([LABELS[kind], caught["step"], caught["epoch"], Code(caught["error"]),
                     Code(caught["forward_call"]), result.value(kind, "steps"), result.value(kind, "nan_weights")])
    return table(["implementation", "caught at step", "epoch", "error (first line)", "forward call (last frame)",
                  "completed steps", "NaN in weights"], rows)
