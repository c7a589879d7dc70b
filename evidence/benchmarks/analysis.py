"""Arithmetic of the benchmark pages, kept apart from the measuring so it can be tested on known
inputs: paired overheads, the crossover model size, and Lightning's parity thresholds."""

from __future__ import annotations

import math
import statistics

from evidence.running.measure import summarize

PARITY_SPEED_THRESHOLD_S = 0.05
"""``max_diff_speed`` of ``ParityModuleRNN`` in Lightning's ``tests/parity_pytorch/test_basic_parity.py``:
seconds per epoch Lightning may be slower than the plain loop."""

PARITY_MEMORY_THRESHOLD = 0.001
"""``max_diff_memory`` for the same model: relative memory excess (0.1 %)."""


def spread(values: list[float]) -> dict:
    """Median, quartiles and range of ``values`` (any unit), keys without the ``_s`` suffix."""
    s = summarize(values)
    return {"median": s["median_s"], "q1": s["q1_s"], "q3": s["q3_s"], "min": s["min_s"], "max": s["max_s"],
            "runs": s["runs"]}


def paired_overhead(reference: list[float], other: list[float]) -> dict:
    """Overhead of ``other`` over ``reference`` from per-round pairs of per-step times (seconds).

    Round ``i`` of both lists was measured back to back, so each pair shares the machine's
    state at that moment; the overhead is summarised over the pairs. Returns milliseconds and
    percent (of the reference), each as median, quartiles and range.
    """
    if len(reference) != len(other) or not reference:
        raise ValueError("overheads need the same, non-zero number of rounds for both implementations")
    ms = [1000 * (o - r) for r, o in zip(reference, other)]
    pct = [100 * (o / r - 1) for r, o in zip(reference, other)]
    low, high = median_interval(pct)
    verdict = ("no measurable difference" if low <= 0 <= high or len(pct) < 3 else
               "costs" if low > 0 else "saves")
    return {"ms": spread(ms), "pct": spread(pct), "pct_interval": [low, high], "verdict": verdict,
            "reference_ms": 1000 * statistics.median(reference), "other_ms": 1000 * statistics.median(other)}


def median_interval(values: list[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A 95 % bootstrap interval of the median of ``values`` (paired rounds), with a fixed seed.

    Fewer than three values give no interval worth the name: their whole range is returned.
    """
    import random

    if len(values) < 3:
        return min(values), max(values)
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def crossover(sizes: list[float], overhead_pct: list[float], threshold: float) -> dict:
    """The model size from which the overhead stays under ``threshold`` percent.

    ``sizes`` must increase. The answer is the smallest swept size whose overhead and that of
    every larger size are below the threshold (a later size back above it moves the crossover
    up). Between that size and the one before it, the crossing is interpolated linearly in
    (log size, overhead). ``reached`` is False when the largest size is still at or above the
    threshold.
    """
    if len(sizes) != len(overhead_pct) or not sizes:
        raise ValueError("need one overhead per size")
    if any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError("sizes must increase")
    first = None
    for i in range(len(sizes) - 1, -1, -1):
        if overhead_pct[i] < threshold:
            first = i
        else:
            break
    out = {"threshold_pct": threshold, "reached": first is not None}
    if first is None:
        return {**out, "size": None, "interpolated": None, "below_from_smallest": False}
    out.update(size=sizes[first], below_from_smallest=first == 0, interpolated=sizes[first])
    if first > 0:
        s0, s1 = math.log(sizes[first - 1]), math.log(sizes[first])
        p0, p1 = overhead_pct[first - 1], overhead_pct[first]
        if p0 != p1:
            t = (p0 - threshold) / (p0 - p1)
            out["interpolated"] = math.exp(s0 + t * (s1 - s0))
    return out


def parity_speed(lightning_s: list[float], vanilla_s: list[float], epochs: int,
                 max_diff: float = PARITY_SPEED_THRESHOLD_S) -> dict:
    """Lightning's ``assert_parity_absolute``: mean of ``(lightning - mean(vanilla)) / epochs`` < ``max_diff``.

    Pass the durations with the first (warm-up) run already dropped, as the test does.
    """
    reference = statistics.fmean(vanilla_s)
    diffs = [(t - reference) / epochs for t in lightning_s]
    value = statistics.fmean(diffs)
    return {"per_epoch_diffs_s": diffs, "value_s": value, "threshold_s": max_diff, "passes": value < max_diff}


def parity_memory(lightning_bytes: list[float], vanilla_bytes: list[float],
                  max_diff: float = PARITY_MEMORY_THRESHOLD) -> dict:
    """Lightning's ``assert_parity_relative`` on memory: mean of ``(lightning - mean(vanilla)) / mean(vanilla)``."""
    reference = statistics.fmean(vanilla_bytes)
    if reference <= 0:
        return {"value": None, "threshold": max_diff, "passes": None,
                "why": "the plain loop's memory reading is zero, so a relative difference is undefined"}
    diffs = [(m - reference) / reference for m in lightning_bytes]
    value = statistics.fmean(diffs)
    return {"value": value, "threshold": max_diff, "passes": value < max_diff}
