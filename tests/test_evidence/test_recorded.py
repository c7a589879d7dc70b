"""tools/gpu_evidence.py and evidence/recorded/: GPU evidence, recorded and shown with its machine."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from evidence import declared, recorded
from evidence.programs import PROJECT_DIR
from evidence.views.topic import ShownResult as RunResult

SCRIPT = PROJECT_DIR / "tools" / "gpu_evidence.py"


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("gpu") / "dry.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--topics", "minimal_loop", "--no-benchmark",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.slow  # a dry run of the whole GPU script
def test_the_dry_run_takes_the_same_path_on_the_cpu_and_says_so(dry_run):
    assert dry_run["kind"] == recorded.KIND and dry_run["dry_run"] is True
    env = dry_run["environment"]
    assert env["device"] == "cpu" and {"torch", "pytorch_lightning", "date", "device_name"} <= set(env)
    train = dry_run["topics"]["minimal_loop"]["train"]
    assert train["parity"]["verdict"] == "identical"
    for impl in train["implementations"].values():
        assert impl["device"] == "cpu" and impl["per_step_ms"] > 0 and impl["peak_memory_bytes"] is not None


@pytest.mark.slow  # the dry run (fixture `dry_run`)
def test_a_dry_run_is_never_read_as_gpu_evidence(dry_run, tmp_path):
    (tmp_path / "dry.json").write_text(json.dumps(dry_run))
    assert recorded.gpu_records(tmp_path) == [] and recorded.gpu_run("minimal_loop", "train", tmp_path) is None


def test_a_dry_run_needs_an_explicit_output_and_a_real_one_a_gpu():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--topics", "minimal_loop"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "never written under evidence/recorded" in proc.stderr
    import torch

    if not torch.cuda.is_available():
        proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2 and "no CUDA GPU" in proc.stderr


@pytest.mark.slow  # the dry run (fixture `dry_run`)
def test_pages_show_a_recorded_gpu_run_with_machine_and_date_or_say_none(dry_run, tmp_path, monkeypatch):
    run = declared.run("minimal_loop")
    report = {"topic": "minimal_loop", "run": run.name, "environment": dry_run["environment"], "spec": run.spec(),
              "implementations": {"pytorch": {}}}
    monkeypatch.setattr(recorded, "GPU_DIR", tmp_path)
    monkeypatch.setattr(recorded.gpu_records, "__defaults__", (tmp_path,))
    monkeypatch.setattr(recorded.gpu_run, "__defaults__", (tmp_path,))
    assert "No GPU run recorded yet" in RunResult(run, report).gpu_evidence()
    gpu = {**dry_run, "dry_run": False,
           "environment": {**dry_run["environment"], "device": "cuda", "device_name": "NVIDIA Test GPU",
                           "cuda": "12.8", "driver": "570.1"}}
    (tmp_path / "2026-12-01-nvidia-test-gpu.json").write_text(json.dumps(gpu))
    shown = RunResult(run, report).gpu_evidence()
    assert "Recorded on NVIDIA Test GPU (CUDA 12.8, driver 570.1)" in shown
    assert gpu["environment"]["date"] in shown and "parity identical" in shown
    assert "2026-12-01-nvidia-test-gpu.json" in shown
