"""Timings both camps accept: the steady-state cost of an optimizer step, start-up apart.

Every timed call of a program's ``run()`` is watched by a `StepClock`: PyTorch's global
optimizer-step hook stamps the end of every step, the same code path for every
implementation, and the program is untouched. From one call's stamps:

- **start-up**: from the call to the end of the first optimizer step (imports excluded: the
  worker imported the programs before; building the ``Trainer`` or ``Fabric`` object, the
  sanity check and the first batch included);
- **per step**: the intervals between consecutive steps, the first `WARMUP_STEPS` dropped; the
  call's figure is their median (an interval that holds a validation pass or an epoch's end is
  one of many, and the median is not moved by it);
- **after the last step**: what follows it (the last validation, teardown).

On CUDA the stamps are CUDA events recorded on the stream, read once after the call: nothing
adds a synchronisation inside the run.

A run of few steps gets more timed rounds than it declares, up to `MAX_ROUNDS`, until every
implementation has `MIN_STEPS` steady-state steps (`rounds_needed`). Across the timed rounds
(which alternate the order of the implementations), `summarize`
gives the median of the rounds' figures and their spread, and `compare` each implementation's
per-step time against the reference's as a ratio with a 95 % bootstrap interval (resampling the
rounds, and the steps within each, `BOOTSTRAP` times with a fixed seed). Where that interval
holds 1, or stays within `NOISE_BAND` of it, the verdict is "no measurable difference".
"""

from __future__ import annotations

import statistics
import time

WARMUP_STEPS = 3
"""Steps dropped at the start of every call, as Lightning's own parity benchmark drops its first 3."""

MIN_STEPS = 400
"""Steady-state steps each implementation's figure rests on, pooled over its rounds, at least:
a run of few steps gets more timed rounds than it declares (`rounds_needed`), as pyperf
calibrates its loops, so that a ratio is not decided by two or three short rounds."""
MAX_ROUNDS = 12

BOOTSTRAP = 2000
NOISE_BAND = 0.02
"""A ratio whose whole interval lies within 1 ± this is reported as no measurable difference."""


class StepClock:
    """Stamps the end of every optimizer step during one call (see the module)."""

    def __init__(self, cuda: bool = False):
        self.cuda = cuda
        self.start = self.end = 0.0
        self._stamps: list = []
        self._handle = None
        self._start_event = None

    def _stamp(self, optimizer, args, kwargs) -> None:
        if self.cuda:
            import torch

            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self._stamps.append(event)
        else:
            self._stamps.append(time.perf_counter())

    def __enter__(self) -> "StepClock":
        from torch.optim import optimizer

        if self.cuda:
            import torch

            torch.cuda.synchronize()
            self._start_event = torch.cuda.Event(enable_timing=True)
            self._start_event.record()
        self._handle = optimizer.register_optimizer_step_post_hook(self._stamp)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        self.end = time.perf_counter()
        self._handle.remove()

    def stamps(self) -> list[float]:
        """Seconds from the call's start to the end of each step."""
        if self.cuda:
            return [self._start_event.elapsed_time(e) / 1000 for e in self._stamps]
        return [t - self.start for t in self._stamps]

    def phases(self) -> dict:
        """This call's start-up, step intervals (warm-up dropped) and time after the last step."""
        stamps = self.stamps()
        total = self.end - self.start
        if not stamps:
            return {"total_s": total, "steps": 0}
        intervals = [b - a for a, b in zip(stamps, stamps[1:])][WARMUP_STEPS:]
        return {"total_s": total, "steps": len(stamps), "startup_s": stamps[0],
                "after_s": max(0.0, total - stamps[-1]), "step_s": intervals}


def rounds_needed(repeats: int, steps_per_round: int) -> int:
    """Timed rounds for a run that declares ``repeats`` and whose first round timed
    ``steps_per_round`` steady-state steps (the fewest of its implementations): enough rounds for
    `MIN_STEPS`, at most `MAX_ROUNDS`, never fewer than declared. A run that declares a single
    round keeps it: a declaration can ask for exactly one."""
    if repeats < 2 or steps_per_round < 1:
        return repeats
    return max(repeats, min(MAX_ROUNDS, -(-MIN_STEPS // steps_per_round)))


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(sorted(values), n=4, method="inclusive")
    return q1, q3


def summarize(rounds: list[dict]) -> dict:
    """One implementation's timed rounds: whole calls, steady-state steps, start-up, the end."""
    totals = [r["total_s"] for r in rounds]
    q1, q3 = _quartiles(totals)
    out = {"runs": len(rounds), "median_s": statistics.median(totals), "q1_s": q1, "q3_s": q3,
           "min_s": min(totals), "max_s": max(totals)}
    per_round = [statistics.median(r["step_s"]) for r in rounds if r.get("step_s")]
    if per_round and len(per_round) == len(rounds):
        pooled = [s for r in rounds for s in r["step_s"]]
        p1, p3 = _quartiles(pooled)
        out.update(per_step_ms=1000 * statistics.median(per_round), per_step_q1_ms=1000 * p1,
                   per_step_q3_ms=1000 * p3, per_step_rounds_ms=[1000 * v for v in per_round],
                   steps_timed=len(pooled), warmup_steps=WARMUP_STEPS,
                   startup_s=statistics.median(r["startup_s"] for r in rounds),
                   after_s=statistics.median(r["after_s"] for r in rounds))
    return out


def compare(rounds: list[dict], reference: list[dict], seed: int = 0) -> dict | None:
    """Per-step time of an implementation over the reference's: ratio, 95 % interval, verdict.

    A hierarchical bootstrap: the same rounds are drawn for both (the rounds alternate the
    order, so round i of each ran side by side), and within every drawn round its steps.
    """
    import numpy as np

    if not rounds or len(rounds) != len(reference) or not all(r.get("step_s") for r in rounds + reference):
        return None
    rng = np.random.default_rng(seed)
    n = len(rounds)
    picks = rng.integers(0, n, size=(BOOTSTRAP, n))

    def medians(calls: list[dict]) -> np.ndarray:
        per_round = []
        for call in calls:
            steps = np.asarray(call["step_s"])
            draws = steps[rng.integers(0, len(steps), size=(BOOTSTRAP, len(steps)))]
            per_round.append(np.median(draws, axis=1))
        per_round = np.stack(per_round, axis=1)  # BOOTSTRAP x rounds
        return np.median(np.take_along_axis(per_round, picks, axis=1), axis=1)

    ratios = medians(rounds) / medians(reference)
    low, high = (float(v) for v in np.percentile(ratios, [2.5, 97.5]))
    ratio = statistics.median(statistics.median(r["step_s"]) for r in rounds) / \
        statistics.median(statistics.median(r["step_s"]) for r in reference)
    if low <= 1.0 <= high or (1 - NOISE_BAND <= low and high <= 1 + NOISE_BAND):
        verdict = "no measurable difference"
    else:
        verdict = "slower" if low > 1.0 else "faster"
    return {"ratio": ratio, "low": low, "high": high, "verdict": verdict, "rounds": n,
            "bootstrap": BOOTSTRAP, "band": NOISE_BAND}
