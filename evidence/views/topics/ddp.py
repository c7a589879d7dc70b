"""Views of the DDP page (``gallery/topics/12_ddp/plot_ddp.py``): the ranks of each job.

Each DDP program's ``run()`` starts the program file as a reader does (``command``) and reads back
what every rank saved: rank 0's weights and history, and one record per rank (``ranks``: training
and validation samples, optimizer steps, files opened for writing, peak resident memory, and the
summed validation loss of the rank's own shard under the final weights). It also returns the largest
difference between the ranks' final weights (``rank_weight_difference``) and the files left in the
run folder (``files``). These views show them; the outcome of Lightning 1.x's ``Trainer(gpus=2)``
comes from the API-changes run, which attempts that call in its worker.
"""

from __future__ import annotations

from evidence.api_changes.views import attempts, outcome
from evidence.programs import LABELS
from evidence.results import RunResult
from evidence.views import Code, Html, Lines, codes, difference, number, paragraph, table


def commands_table(result: RunResult) -> Html:
    """The command each program was started with, as a reader types it, with this run's options.

    Args:
        result: a run of the DDP programs.

    Returns:
        One row per implementation: the command (the program's ``command`` followed by the run's
        parameters as options) and the number of processes the job ended with.
    """
    options = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in result.params.items())
    return result.per_implementation({"command": lambda impl: Code(f"{impl['command']} {options}".strip()),
                                      "processes": "world_size"})


def ranks_table(result: RunResult) -> Html:
    """One row per rank of every job: what it trained on, what it wrote, how far its weights are.

    Args:
        result: a run of the DDP programs.

    Returns:
        The table: training samples per epoch, validation samples, optimizer steps, files opened for
        writing (one per line, in the order they were opened), the job's max |rank 0 − rank 1| of the
        final weights, and the rank's peak resident memory.
    """
    rows = []
    for kind in result.kinds():
        for rank in result.value(kind, "ranks"):
            writes = Lines(Code(w) for w in rank["writes"]) if rank["writes"] else "nothing"
            rows.append([LABELS[kind], rank["rank"], rank["train_samples"], rank["val_samples"], rank["steps"],
                         writes, difference(result.value(kind, "rank_weight_difference")),
                         f"{rank['peak_rss_mib']:.0f} MiB"])
    return table(["implementation", "rank", "training samples per epoch", "validation samples", "optimizer steps",
                  "files opened for writing", "max |rank 0 − rank 1| of the weights", "peak RSS of the rank"], rows)


def files_table(result: RunResult) -> Html:
    """The files each job left in its run folder once it ended.

    Args:
        result: a run of the DDP programs.

    Returns:
        One row per implementation with the files, as inline code.
    """
    return result.per_implementation({"files in the run folder at the end": lambda impl: codes(impl["files"])})


def _listing(items: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _means(impl: dict) -> dict:
    """The last epoch's validation loss of every rank, and the two ways of combining them."""
    ranks = impl["ranks"]
    per_rank = [r["val_loss_sum"] / r["val_samples"] for r in ranks]
    return {"samples": [r["val_samples"] for r in ranks], "per_rank": per_rank,
            "rank_mean": sum(per_rank) / len(per_rank),
            "sample_mean": sum(r["val_loss_sum"] for r in ranks) / sum(r["val_samples"] for r in ranks),
            "logged": impl["history"]["val_loss"][-1]}


def weighting_table(result: RunResult) -> Html:
    """How each job combined its ranks' validation losses in the last epoch.

    Each rank's loss is its summed loss over its own shard, evaluated again on the final weights
    (those the last validation used), divided by its sample count.

    Args:
        result: a run of the DDP programs.

    Returns:
        One row per implementation: samples and loss per rank, the mean of the ranks' means (ranks
        weighted equally), the mean over all samples (ranks weighted by their samples), the value the
        program logged, and its distance to each.
    """
    rows = []
    for kind in result.kinds():
        m = _means(result.implementations[kind])
        rows.append([LABELS[kind], " / ".join(map(str, m["samples"])), " / ".join(number(v) for v in m["per_rank"]),
                     number(m["rank_mean"], 6), number(m["sample_mean"], 6), number(m["logged"], 6),
                     difference(abs(m["logged"] - m["sample_mean"])), difference(abs(m["logged"] - m["rank_mean"]))])
    return table(["implementation", "validation samples (rank 0 / rank 1)", "each rank's own loss",
                  "mean of the ranks' losses", "mean over all samples", "logged val_loss",
                  "|logged − mean over samples|", "|logged − mean of ranks|"], rows,
                 caption="Last epoch. Each rank's loss is recomputed from its own shard and the final weights, "
                         "which the last validation used.")


def weighting_verdict(result: RunResult, tolerance: float = 1e-6) -> Html:
    """Which mean each implementation's logged validation loss is, read from the run.

    Args:
        result: a run of the DDP programs.
        tolerance: the largest difference still called equal (the loss is a float32 mean).

    Returns:
        A paragraph: the samples each rank validated, whether their total is a multiple of the
        number of ranks (what Lightning's synced count needs to be exact), and, grouped, the
        implementations whose logged value is the mean over all samples, the mean of the ranks'
        means, or neither.
    """
    groups: dict[str, list[str]] = {}
    for kind in result.kinds():
        m = _means(result.implementations[kind])
        if abs(m["logged"] - m["sample_mean"]) <= tolerance:
            what = "the mean over all samples"
        elif abs(m["logged"] - m["rank_mean"]) <= tolerance:
            what = "the mean of the ranks' means"
        else:
            what = "neither mean"
        groups.setdefault(what, []).append(LABELS[kind])
    m = _means(result.implementations[result.kinds()[0]])
    total, world = sum(m["samples"]), len(m["samples"])
    shares = ", ".join(f"rank {r} {n}" for r, n in enumerate(m["samples"]))
    exact = (f"a multiple of the {world} ranks, so Lightning's synced count is exact" if total % world == 0 else
             f"not a multiple of the {world} ranks, so Lightning's synced count is floored")
    logged = "; ".join(f"{_listing(kinds)} logged {what}" for what, kinds in groups.items())
    return paragraph(f"Samples validated: {shares} ({total} in all, {exact}; see the pitfall on counts below). "
                     f"{logged}.")


def old_gpus_argument() -> Html:
    """What ``pl.Trainer(gpus=2, accelerator="gpu")`` did on the installed Lightning.

    The call is attempted by the API-changes run (``evidence/api_changes/runs.toml``), in its
    worker; this view shows the recorded outcome (the exception and its message).

    Returns:
        An admonition: the exception raised, or what happened instead.
    """
    return outcome(attempts().case("gpus")["old"])
