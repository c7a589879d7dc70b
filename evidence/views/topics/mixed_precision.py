"""Views of the mixed-precision page (``gallery/topics/11_mixed_precision/plot_mixed_precision.py``).

The page compares a bfloat16-autocast run with a float32 run of the same programs, and shows the
float16 run (``precision="16-mixed"``, with a gradient scaler) only where the build ran on a
CUDA GPU; elsewhere it says that run was not executed and why.
"""

from __future__ import annotations

from evidence.programs import LABELS
from evidence.results import RunResult, TopicRuns
from evidence.running.measure import max_abs_difference
from evidence.views import Code, Html, Strong, admonition, difference, paragraph, seconds, table

BF16_VS_FP32_TOLERANCE = 5e-3
"""The largest difference of any per-epoch loss between bf16-mixed and 32-true still accepted."""

FP16_RUN = "fp16"
"""The run in ``snippets/mixed_precision/runs.toml`` that needs a CUDA GPU."""


def versus_fp32_table(low: RunResult, fp32: RunResult, tolerance: float = BF16_VS_FP32_TOLERANCE) -> Html:
    """A low-precision run against the float32 run, implementation by implementation.

    Args:
        low: The mixed-precision run (bf16-mixed).
        fp32: The same programs in ``32-true``.
        tolerance: The largest difference of any per-epoch loss still accepted.

    Returns:
        A table with one row per implementation: the final validation loss of both runs, the
        largest difference of any epoch's training or validation loss, whether it is within
        ``tolerance``, the dtype the middle layer produced and the dtype the weights were stored in,
        both in the low-precision run.
    """
    rows = []
    for kind in low.kinds():
        diff = max_abs_difference(low.value(kind, "history"), fp32.value(kind, "history"))
        rows.append([LABELS[kind], f"{fp32.value(kind, 'history.val_loss')[-1]:.5f}",
                     f"{low.value(kind, 'history.val_loss')[-1]:.5f}", difference(diff),
                     "within tolerance" if diff <= tolerance else Strong("OUTSIDE tolerance"),
                     ", ".join(low.value(kind, "compute_dtype")), low.value(kind, "weight_dtype")])
    return table(["implementation", "final val loss, fp32", f"final val loss, {low.value(low.kinds()[0], 'precision')}",
                  "max |difference| of any epoch's loss", f"tolerance {tolerance:g}", "layer output dtype",
                  "weights stored in"], rows)


def ran_on_cuda(result: RunResult) -> bool:
    """Whether the build executed ``result`` on a CUDA GPU (from its environment stamp)."""
    return result.environment["device"] == "cuda"


def fp16_not_run(result: RunResult) -> Html:
    """A note that the fp16 run needs a CUDA GPU and was not executed on this build's device.

    Args:
        result: The headline run; its environment names the device the build ran on.

    Returns:
        A note naming the device.
    """
    env = result.environment
    return admonition("note", "float16 with a gradient scaler: not executed in this build", [
        "The fp16 run (", Code('precision="16-mixed"'), ") needs a CUDA GPU. This build ran on ",
        Code(env["device"]), f" ({env['device_name']}), so only the bfloat16 and float32 results above "
                             "were executed."])


def fp16_table(fp16: RunResult) -> Html:
    """The fp16 run per implementation: precision, final losses and the gradient scaler's scale.

    Args:
        fp16: The ``16-mixed`` run.

    Returns:
        A table with one row per implementation.
    """
    return fp16.per_implementation({
        "precision": lambda r: Code(r["precision"]),
        "final train loss": lambda r: f"{r['history']['train_loss'][-1]:.5f}",
        "final val loss": lambda r: f"{r['history']['val_loss'][-1]:.5f}",
        "layer output dtype": "compute_dtype",
        "final loss scale of the GradScaler": "grad_scale",
    })


def fp16(runs: TopicRuns) -> Html:
    """The fp16 run where the build ran on a CUDA GPU, else the note that it was not executed.

    Where the headline run's environment says ``cuda``, the fp16 run is loaded, its programs'
    logs are printed and its parity and per-implementation table are returned; elsewhere the
    run is not loaded at all (it is not declared to run without a GPU).

    Args:
        runs: The topic's runs.

    Returns:
        The fp16 parity and table, or `fp16_not_run`'s note.
    """
    if not ran_on_cuda(runs.headline):
        return fp16_not_run(runs.headline)
    result = runs[FP16_RUN]
    result.logs()
    return Html(result.parity() + fp16_table(result))


def speed_sentence(low: RunResult, fp32: RunResult) -> Html:
    """How long the mixed-precision runs took against the float32 runs, per implementation.

    Args:
        low: The mixed-precision run (bf16-mixed), timed.
        fp32: The same programs in ``32-true``, timed.

    Returns:
        A paragraph giving, for each implementation, the median run time in both precisions and
        their ratio, on the device this build ran on; or a note when either run has no timings.
    """
    parts = []
    for kind in low.kinds():
        low_t, fp32_t = low.implementations[kind].get("timing"), fp32.implementations[kind].get("timing")
        if not low_t or not fp32_t:
            return paragraph("One of the two runs has no timed rounds in this build, so there is no ratio to give.")
        parts.append(f"{LABELS[kind]} {seconds(low_t['median_s'])} against {seconds(fp32_t['median_s'])} "
                     f"({low_t['median_s'] / fp32_t['median_s']:.2f}×)")
    precision = low.value(low.kinds()[0], "precision")
    return paragraph(f"In this build ({low.environment['device']}), the median {precision} run took: ",
                     "; ".join(parts), ", against the median 32-true run of the same program.")
