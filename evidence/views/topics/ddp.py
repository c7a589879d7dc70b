"""Views of the DDP page (``gallery/topics/12_ddp/plot_ddp.py``): the ranks of each job.

Each DDP program returns, besides rank 0's weights and history, one record per rank
(``ranks``: samples and steps, files opened for writing, peak resident memory), the largest
difference between the ranks' final weights (``rank_weight_difference``) and the files left
in the run folder (``files``). These views show them; the outcome of Lightning 1.x's
``Trainer(gpus=2)`` comes from the API-changes run, which attempts that call in its worker.
"""

from __future__ import annotations

from evidence.api_changes.views import attempts, outcome
from evidence.programs import LABELS
from evidence.results import RunResult
from evidence.views import Code, Html, Lines, codes, difference, table


def ranks_table(result: RunResult) -> Html:
    """One row per rank of every job: what it trained on, what it wrote, how far its weights are.

    Args:
        result: a run of the DDP programs.

    Returns:
        The table: samples in the last epoch, optimizer steps, files opened for writing (one
        per line, in the order they were opened), the job's max |rank 0 − rank 1| of the final
        weights, and the rank's peak resident memory.
    """
    rows = []
    for kind in result.kinds():
        for rank in result.value(kind, "ranks"):
            writes = Lines(Code(w) for w in rank["writes"]) if rank["writes"] else "nothing"
            rows.append([LABELS[kind], rank["rank"], rank["samples_last_epoch"], rank["steps"], writes,
                         difference(result.value(kind, "rank_weight_difference")),
                         f"{rank['peak_rss_mib']:.0f} MiB"])
    return table(["implementation", "rank", "samples (last epoch)", "optimizer steps", "files opened for writing",
                  "max |rank 0 − rank 1| of the weights", "peak RSS of the rank"], rows)


def files_table(result: RunResult) -> Html:
    """The files each job left in its run folder once it ended.

    Args:
        result: a run of the DDP programs.

    Returns:
        One row per implementation with the files, as inline code.
    """
    return result.per_implementation({"files in the run folder at the end": lambda impl: codes(impl["files"])})


def old_gpus_argument() -> Html:
    """What ``pl.Trainer(gpus=2, accelerator="gpu")`` did on the installed Lightning.

    The call is attempted by the API-changes run (``evidence/api_changes/runs.toml``), in its
    worker; this view shows the recorded outcome (the exception and its message).

    Returns:
        An admonition: the exception raised, or what happened instead.
    """
    return outcome(attempts().case("gpus")["old"])
