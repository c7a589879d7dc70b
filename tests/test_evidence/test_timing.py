"""evidence/running/timing.py: steady-state step cost, start-up apart, intervals on every ratio."""

from __future__ import annotations

import random
import time

import torch

from evidence.running import timing


def test_the_clock_stamps_every_optimizer_step_and_splits_start_up_from_steps():
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with timing.StepClock() as clock:
        time.sleep(0.05)  # set-up before the first step
        for _ in range(10):
            model(torch.ones(2)).sum().backward()
            optimizer.step()
            time.sleep(0.002)
    phases = clock.phases()
    assert phases["steps"] == 10
    assert phases["startup_s"] >= 0.05
    assert len(phases["step_s"]) == 10 - 1 - timing.WARMUP_STEPS  # intervals, warm-up dropped
    assert all(s >= 0.002 for s in phases["step_s"])
    assert phases["total_s"] >= phases["startup_s"] + sum(phases["step_s"])


def _rounds(scale: float, seed: int, rounds: int = 5, steps: int = 60) -> list[dict]:
    rng = random.Random(seed)
    return [{"total_s": 1.0, "steps": steps, "startup_s": 0.1, "after_s": 0.01,
             "step_s": [scale * 0.001 * (1 + 0.1 * rng.random()) for _ in range(steps)]} for _ in range(rounds)]


def test_a_real_difference_gets_a_ratio_and_an_interval_that_excludes_one():
    found = timing.compare(_rounds(2.0, 1), _rounds(1.0, 2))
    assert found["verdict"] == "slower" and 1.8 < found["low"] <= found["ratio"] <= found["high"] < 2.2


def test_noise_is_called_noise():
    found = timing.compare(_rounds(1.0, 3), _rounds(1.0, 4))
    assert found["verdict"] == "no measurable difference"
    assert found["low"] <= 1.0 <= found["high"] or found["high"] <= 1 + timing.NOISE_BAND


def test_a_summary_gives_the_median_of_the_rounds_and_their_spread():
    summary = timing.summarize(_rounds(1.0, 5))
    assert summary["runs"] == 5 and summary["steps_timed"] == 5 * 60
    assert 1.0 <= summary["per_step_ms"] <= 1.1
    assert summary["per_step_q1_ms"] <= summary["per_step_ms"] <= summary["per_step_q3_ms"]
    assert summary["startup_s"] == 0.1


def test_runs_without_steps_publish_no_per_step_figure():
    summary = timing.summarize([{"total_s": 1.0, "steps": 0}, {"total_s": 1.2, "steps": 0}])
    assert "per_step_ms" not in summary and summary["median_s"] == 1.1
    assert timing.compare([{"total_s": 1.0, "steps": 0}], [{"total_s": 1.0, "steps": 0}]) is None


def test_a_run_of_few_steps_gets_more_rounds_never_fewer_than_declared():
    assert timing.rounds_needed(2, 35) == -(-timing.MIN_STEPS // 35)  # 35 steps a round: 12 rounds for 400
    assert timing.rounds_needed(3, 2) == timing.MAX_ROUNDS  # capped
    assert timing.rounds_needed(5, 256) == 5  # enough steps already: as declared
    assert timing.rounds_needed(1, 35) == 1  # one declared round (a compilation each) stays one
    assert timing.rounds_needed(0, 35) == 0
