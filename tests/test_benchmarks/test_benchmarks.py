"""The benchmark section: its arithmetic on known inputs, its workloads' parity, and the worker
on a tiny configuration (in this process, so the test does not pay another Lightning import)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from evidence import declared
from evidence.benchmarks import analysis, views, worker
from evidence.benchmarks import workloads as wl

TINY = wl.Workload(width=8, batches=6, epochs=2, warmup=2)


# -- arithmetic ---------------------------------------------------------------------------------

def test_paired_overhead_from_known_rounds():
    reference = [0.010, 0.012, 0.011]
    other = [0.013, 0.015, 0.0165]
    out = analysis.paired_overhead(reference, other)
    assert out["ms"]["median"] == pytest.approx(3.0)
    assert out["ms"]["min"] == pytest.approx(3.0) and out["ms"]["max"] == pytest.approx(5.5)
    assert out["pct"]["median"] == pytest.approx(30.0)  # 3/10, 3/12 = 25, 5.5/11 = 50
    assert out["reference_ms"] == pytest.approx(11.0)
    with pytest.raises(ValueError):
        analysis.paired_overhead([1.0], [1.0, 2.0])


def test_crossover_on_synthetic_sweep():
    sizes = [1e3, 1e4, 1e5, 1e6]
    c = analysis.crossover(sizes, [80.0, 20.0, 4.0, 0.5], 5.0)
    assert c["reached"] and c["size"] == 1e5 and not c["below_from_smallest"]
    # 20 % at 1e4 and 4 % at 1e5: the 5 % line is crossed 15/16 of the way in log size
    assert c["interpolated"] == pytest.approx(10 ** (4 + 15 / 16))
    assert analysis.crossover(sizes, [80.0, 20.0, 4.0, 0.5], 1.0)["size"] == 1e6
    missing = analysis.crossover(sizes, [80.0, 20.0, 4.0, 2.0], 1.0)
    assert not missing["reached"] and missing["size"] is None
    # a later size back above the threshold moves the crossover past it
    assert analysis.crossover(sizes, [80.0, 3.0, 6.0, 2.0], 5.0)["size"] == 1e6
    assert analysis.crossover(sizes, [4.0, 3.0, 2.0, 1.0], 5.0)["below_from_smallest"]
    with pytest.raises(ValueError):
        analysis.crossover([2.0, 1.0], [1.0, 1.0], 5.0)


def test_parity_thresholds_follow_lightnings_formula():
    # assert_parity_absolute: mean((pl - mean(pt)) / epochs) < max_diff
    speed = analysis.parity_speed([1.4, 1.6], [1.0, 1.2], epochs=4)
    assert speed["value_s"] == pytest.approx(((1.4 - 1.1) / 4 + (1.6 - 1.1) / 4) / 2)
    assert speed["threshold_s"] == 0.05 and not speed["passes"]
    assert analysis.parity_speed([1.15], [1.0, 1.2], epochs=4)["passes"]
    memory = analysis.parity_memory([1001.0, 1000.0], [1000.0, 1000.0])
    assert memory["value"] == pytest.approx(0.0005) and memory["passes"]
    assert not analysis.parity_memory([1002.0], [1000.0])["passes"]
    assert analysis.parity_memory([1.0], [0.0])["passes"] is None


# -- workloads ----------------------------------------------------------------------------------

def test_three_programs_train_bitwise_identical_weights():
    results = {kind: fn(TINY, "cpu") for kind, fn in wl.RUNNERS.items()}
    reference = results["pytorch"][0]
    for kind in ("lightning", "fabric"):
        check = worker._check(reference, results[kind][0], ["pytorch", kind])
        assert check["identical"], check
        clock = results[kind][1].summary()
        assert clock["steps"] == TINY.steps and clock["window_steps"] == TINY.steps - TINY.warmup
        assert clock["per_step_s"] > 0 and clock["per_step_cpu_s"] > 0
    untrained = {k: v for k, v in wl.make_mlp(TINY).state_dict().items()}
    assert worker._check(reference, untrained, ["pytorch", "untrained"])["identical"] is False


def test_the_check_catches_a_changed_program():
    from dataclasses import replace

    reference, _ = wl.run_pytorch(TINY, "cpu")
    changed, _ = wl.run_lightning(replace(TINY, lr=2e-3), "cpu")
    check = worker._check(reference, changed, ["pytorch", "lightning"])
    assert not check["identical"] and check["max_abs_difference"] > 0
    assert check["digest"][0] != check["digest"][1]


def test_sanity_validation_variant_keeps_the_weights():
    w = wl.Workload(width=8, batches=4, epochs=1, warmup=1, val_batches=2)
    plain, _ = wl.run_pytorch(w, "cpu")
    for variant in ("sanity_val", "checkpointing"):
        weights, clock = wl.run_lightning(w, "cpu", variant)
        assert worker._check(plain, weights, ["pytorch", variant])["identical"]


# -- the worker -----------------------------------------------------------------------------------

def _spec(bench: str, tmp_path) -> dict:
    return {"topic": "benchmarks", "run": bench, "params": {"bench": bench, "config": "tiny"}, "threads": 1,
            "repeats": 5, "lock": str(tmp_path / "timing.lock"), "roots": [], "worker": "evidence.benchmarks.worker"}


def test_worker_overhead_on_a_tiny_sweep(tmp_path):
    report = worker.run_spec(_spec("overhead", tmp_path))
    assert report["bench"] == "overhead" and report["config"] == "tiny" and report["device"] == "cpu"
    assert report["basis"] == "cpu" and report["environment"]["threads"] == 1
    assert len(report["sizes"]) == len(worker.SWEEPS["tiny"]["sizes"])
    for size in report["sizes"]:
        rounds = size["rounds"]
        assert set(size["runs"]) == {"pytorch", "lightning", "fabric"}
        assert all(len(v) == rounds for v in size["runs"].values())
        # the overhead is recomputed from the recorded rounds
        ref = [r["per_step_cpu_s"] for r in size["runs"]["pytorch"]]
        other = [r["per_step_cpu_s"] for r in size["runs"]["lightning"]]
        assert size["overhead"]["lightning"] == analysis.paired_overhead(ref, other)
        assert all(b >= 0 for b in size["memory_bytes"].values())
    # every timed run of Lightning and Fabric was compared with the plain run of its round
    assert len(report["checks"]) == 2 * sum(s[-1] for s in worker.SWEEPS["tiny"]["sizes"])
    assert report["all_identical"]
    assert set(report["crossover"]["lightning"]) == {"5.0", "1.0"}
    json.dumps(report, allow_nan=True)


def test_worker_protocol_reports_errors(tmp_path):
    # the job file the runner writes: its runs, the timing lock and the roots to hide
    job_file, out_dir = tmp_path / "job.json", tmp_path / "out"
    out_dir.mkdir()
    spec = {k: v for k, v in _spec("nonsense", tmp_path).items() if k not in ("lock", "roots")}
    job_file.write_text(json.dumps({"runs": [spec], "lock": str(tmp_path / "timing.lock"), "roots": []}))
    assert worker.serve(worker.run_one, [str(job_file), str(out_dir)]) == 1
    error = json.loads((out_dir / "nonsense.json").read_text())["error"]
    assert "KeyError" in error["location"] and "unknown benchmark" in error["traceback"]


# -- the page views ---------------------------------------------------------------------------------

def _bench(checks: list[dict], **extra) -> views.Benchmark:
    report = {"topic": "benchmarks", "run": "overhead", "bench": "overhead", "environment": {}, "basis": "cpu",
              "checks": checks, "all_identical": bool(checks) and all(c["identical"] for c in checks), **extra}
    return views.Benchmark(declared.run("benchmarks", "overhead"), report)


def test_every_benchmark_is_declared_with_its_worker():
    runs = {run.name: run for run in declared.runs("benchmarks")}
    assert set(runs) == set(worker.BENCHES) and runs["overhead"].headline
    for name, run in runs.items():
        assert run.worker == "evidence.benchmarks.worker" and run.params == {"bench": name}


def test_page_check_table_stops_the_build_when_weights_differ():
    good = {"pair": ["pytorch", "lightning"], "size": 8, "max_abs_difference": 0.0, "identical": True,
            "digest": ["a", "a"]}
    shown = _bench([good]).checks()
    assert "<strong>identical</strong>" in shown and "size 8" in shown and "five decimals" not in shown
    assert "five decimals" in _bench([good], losses_equal_5_decimals=True).checks()
    bad = {**good, "max_abs_difference": 1e-7, "identical": False, "digest": ["a", "b"]}
    with pytest.raises(AssertionError):
        _bench([good, bad]).checks()


def test_a_view_of_another_benchmark_says_so():
    with pytest.raises(ValueError, match="parity_workload"):
        _bench([]).verdict()


def test_formats_keep_the_pages_numbers():
    assert views.milliseconds(1.3174) == "1.32 ms" and views.milliseconds(1234.5) == "1234 ms"
    assert views.duration(0.0123) == "12.3 ms" and views.duration(4.6) == "4.60 s"
    assert views.extra({"ms": {"median": 1.05131}, "pct": {"median": 56.666}}) == "+1.05 ms (+56.7 %)"
    assert views.label("lightning:matched") == "Lightning (matched)" and views.label("fabric") == "Fabric"
    cell = views.spread({"median": 1.3174, "q1": 1.115, "q3": 1.4535})
    assert cell.html() == "1.32 ms <em>(IQR 1.11 ms – 1.45 ms)</em>"


def test_committed_results_are_listed_or_said_to_be_missing(tmp_path):
    assert "No committed results yet" in views.committed_table("overhead", tmp_path)
    assert "No committed results yet" in _bench([]).committed(tmp_path)
    # the benchmark reports a GPU evidence file holds (tools/gpu_evidence.py writes them)
    data = {"kind": "gpu-evidence",
            "environment": {"device_name": "Some <GPU>", "device": "cuda", "date": "2026-01-01 00:00 UTC"},
            "benchmarks": {"parity_workload": {"bench": "parity_workload", "config": "full",
                                               "speed": {"value_s": 0.01, "threshold_s": 0.05}}}}
    (tmp_path / "gpu.json").write_text(json.dumps(data))
    html = views.committed_table("parity_workload", tmp_path)
    assert "Some &lt;GPU&gt;" in html and "2026-01-01" in html and "+0.010 s/epoch" in html


def test_worker_rejects_an_unknown_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCS_BENCHMARK", "huge")
    spec = _spec("overhead", tmp_path)
    del spec["params"]["config"]
    with pytest.raises(KeyError, match="unknown configuration 'huge'"):
        worker.run_spec(spec)


def test_parity_workload_is_lightnings_definition():
    torch.manual_seed(0)
    data = wl.AverageDataset()
    assert len(data) == 300 and data.input_seq.shape == (300, 100, 10)
    x, y = data[0]
    assert torch.equal(y, x[:, :5] + x[:, 5:].roll(shifts=1, dims=-1))
    module = wl.parity_module_class()()
    assert isinstance(module.rnn, torch.nn.LSTM) and module.rnn.input_size == 10 and module.rnn.hidden_size == 20
    assert module.linear_out.out_features == 5
    assert module.train_dataloader().batch_size == 30
    assert math.isclose(module.configure_optimizers().defaults["lr"], 0.02)


def test_a_feature_whose_interval_holds_zero_is_no_measurable_difference():
    from evidence.benchmarks import analysis

    noise = analysis.paired_overhead([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [0.97, 1.02, 1.01, 0.99, 1.03, 0.98, 1.0])
    assert noise["verdict"] == "no measurable difference"
    low, high = noise["pct_interval"]
    assert low <= 0 <= high
    cost = analysis.paired_overhead([1.0] * 7, [1.2, 1.21, 1.19, 1.22, 1.2, 1.18, 1.2])
    assert cost["verdict"] == "costs" and cost["pct_interval"][0] > 0
    assert "no measurable difference" in views.extra(noise) and "95 % interval" in views.extra(cost)
