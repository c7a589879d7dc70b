"""evidence/loopdiff: ``loopdiff record`` and ``loopdiff diff`` on the site's own programs.

The programs are recorded once per module, in this process (as ``loopdiff record`` runs them:
``runpy``, ``__name__ == "__main__"``), with small ``--epochs``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from evidence import declared
from evidence.loopdiff import cli, comparing, views
from evidence.programs import PROJECT_DIR, program_path


def script(topic: str, kind: str) -> str:
    return str(program_path(topic, kind))


RECORDINGS = {
    "minimal_pytorch": (script("minimal_loop", "pytorch"), "--epochs", "1"),
    "minimal_lightning": (script("minimal_loop", "lightning"), "--epochs", "1"),
    "per_step": (script("scheduler_interval", "pytorch"), "--epochs", "2", "--interval", "step"),
    "per_epoch": (script("scheduler_interval", "lightning"), "--epochs", "2", "--interval", "epoch"),
}
"""Two pairs: the minimal loop (identical at every step), and a warm-up stepped per step in plain
PyTorch against the Lightning program that returns it without an interval (stepped per epoch)."""

TINY = """
import sys
import torch

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=float(sys.argv[1]))
for _ in range(4):
    loss = model(torch.ones(2, 3)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""
"""A training script of another model than the site's programs: four SGD steps, the rate from argv."""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("recordings")
    paths = {}
    for name, command in RECORDINGS.items():
        paths[name] = str(folder / f"{name}.json")
        assert cli.main(["record", "-o", paths[name], *command]) == 0
    return paths


def diff(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["diff", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("loopdiff: error: "), err
    return lines[0]


def test_the_recording_holds_the_calls_the_ledger_and_the_snapshots(recorded):
    data = json.loads(Path(recorded["minimal_pytorch"]).read_text())
    assert data["format"] == "loopdiff-recording" and data["argv"] == ["--epochs", "1"]
    steps = sum(e["op"] == "optimizer.step" for e in data["events"])
    assert steps == len(data["ledger"]) == data["snapshots"]["steps"] == 13  # 409 samples, batches of 32
    assert {p["name"] for p in data["optimizers"][0]["parameters"]} == {"0.weight", "0.bias", "2.weight", "2.bias"}
    first = comparing.decode(data["snapshots"]["data"][0][0], [16, 10])
    assert first.shape == (16, 10) and abs(first).max() > 0


def test_an_identical_pair_says_identical(recorded, capsys):
    code, out, _ = diff(capsys, recorded["minimal_pytorch"], recorded["minimal_lightning"])
    assert code == 0
    assert "IDENTICAL: the parameters are the same, bit for bit, after every one of the 13 optimizer steps" in out
    assert "parameters matched by name (4 parameters)" in out
    # the calls still differ: Lightning's sanity-check validation, marked, before the paired steps
    marked = [line for line in out.splitlines() if line.startswith("!")]
    assert any("model.zero_grad()" in line for line in marked)
    assert any(line.startswith("  ×13, steps 1–13:") and line.count("×13, steps 1–13:") == 2 for line in out.splitlines())


def test_a_scheduler_stepped_per_epoch_parts_after_the_first_step_the_rates_differ(recorded, capsys):
    per_step = json.loads(Path(recorded["per_step"]).read_text())["events"]
    per_epoch = json.loads(Path(recorded["per_epoch"]).read_text())["events"]

    def steps_before_first_scheduler_step(events):
        first = next(i for i, e in enumerate(events) if e["op"] == "scheduler.step")
        return sum(e["op"] == "optimizer.step" for e in events[:first])

    # stepped per step, the rate changes after step 1; stepped per epoch, only after the epoch's 13
    assert steps_before_first_scheduler_step(per_step) == 1
    assert steps_before_first_scheduler_step(per_epoch) == 13
    expected = steps_before_first_scheduler_step(per_step) + 1  # the first step taken at another rate
    code, out, err = diff(capsys, recorded["per_step"], recorded["per_epoch"])
    assert code == 2 and not err
    assert f"PARTED at optimizer step {expected} of 26" in out
    worst = out.split("the parameter that differs most there: ", 1)[1].split(",", 1)[0]
    assert worst in {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert "verdict: different" in out
    # the cause, in the aligned traces: the per-step cycle ends with the scheduler step
    traces = out.split("The calls, folded and aligned around step 2", 1)[1]
    assert "! ×13, steps 1–13:" in traces and "LambdaLR.step()" in traces


def test_tolerance_turns_a_difference_into_exit_code_1(recorded, capsys):
    code, out, _ = diff(capsys, recorded["per_step"], recorded["per_epoch"], "--tolerance", "100")
    assert code == 1 and "within tolerance 100 at every step" in out


def test_corrupt_foreign_and_damaged_files_exit_3_with_one_line(recorded, tmp_path, capsys):
    good = Path(recorded["minimal_pytorch"]).read_text()
    (tmp_path / "corrupt.json").write_text(good[:len(good) // 2])
    (tmp_path / "foreign.json").write_text(json.dumps({"metrics": [1, 2, 3]}))
    damaged = json.loads(good)
    del damaged["ledger"]
    (tmp_path / "damaged.json").write_text(json.dumps(damaged))
    for name, says in [("corrupt", "is not JSON"), ("foreign", "is not a loopdiff recording"),
                       ("damaged", "is a damaged loopdiff recording"), ("missing", "cannot read")]:
        code, out, err = diff(capsys, recorded["minimal_pytorch"], str(tmp_path / f"{name}.json"))
        assert code == 3 and not out, name
        assert says in one_error_line(err)


def test_a_script_that_never_steps_an_optimizer_says_so(tmp_path, capsys):
    (tmp_path / "eval_only.py").write_text("import torch\nprint(torch.nn.Linear(3, 1)(torch.ones(1, 3)).shape)\n")
    capsys.readouterr()
    code = cli.main(["record", "-o", str(tmp_path / "e.json"), str(tmp_path / "eval_only.py")])
    assert code == 3 and not (tmp_path / "e.json").exists()
    assert "never stepped a torch.optim optimizer" in one_error_line(capsys.readouterr().err)


def test_two_recordings_of_different_models_say_so(recorded, tmp_path, capsys):
    (tmp_path / "tiny.py").write_text(TINY)
    assert cli.main(["record", "-o", str(tmp_path / "tiny.json"), str(tmp_path / "tiny.py"), "0.1"]) == 0
    code, out, err = diff(capsys, recorded["minimal_pytorch"], str(tmp_path / "tiny.json"))
    assert code == 3 and not out
    assert "record different models" in one_error_line(err)


def test_max_steps_stops_a_lightning_run_cleanly(tmp_path, capsys):
    out = tmp_path / "short.json"
    assert cli.main(["record", "-o", str(out), "--max-steps", "3", script("minimal_loop", "lightning"),
                     "--epochs", "1"]) == 0
    data = json.loads(out.read_text())
    assert len(data["ledger"]) == 3 and "--max-steps" in data["stopped"]
    assert "stopped at --max-steps" in capsys.readouterr().err


def test_only_rank_0_records(tmp_path, monkeypatch, capsys):
    (tmp_path / "tiny.py").write_text(TINY)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert cli.main(["record", "-o", str(tmp_path / "r.json"), str(tmp_path / "tiny.py"), "0.1"]) == 0
    assert not (tmp_path / "r.json").exists()
    assert "rank 1: not recorded" in capsys.readouterr().err


def test_past_the_snapshot_budget_digests_still_find_the_step(tmp_path, capsys):
    (tmp_path / "tiny.py").write_text(TINY)
    files = {}
    for name, rate in [("a", "0.1"), ("same", "0.1"), ("b", "0.2")]:
        files[name] = str(tmp_path / f"{name}.json")
        assert cli.main(["record", "-o", files[name], "--snapshot-mb", "0", str(tmp_path / "tiny.py"), rate]) == 0
    assert json.loads(Path(files["a"]).read_text())["snapshots"]["steps"] == 0
    assert diff(capsys, files["a"], files["same"])[0] == 0
    code, out, _ = diff(capsys, files["a"], files["b"], "--tolerance", "1")
    assert code == 2 and "PARTED at optimizer step 1 of 4" in out and "max |a - b| = unknown" in out


def test_parameters_match_by_name_without_prefixes_else_by_order_and_shape():
    def params(*named):
        return [{"name": n, "shape": s} for n, s in named]

    plain = params(("0.weight", [4, 3]), ("0.bias", [4]), ("2.weight", [1, 4]))
    held = params(("model.0.bias", [4]), ("model.0.weight", [4, 3]), ("model.2.weight", [1, 4]))
    fabric = params(("_forward_module.0.weight", [4, 3]), ("_forward_module.0.bias", [4]),
                    ("_forward_module.2.weight", [1, 4]))
    match = comparing.match_parameters(plain, held, ("a", "b"))
    assert match.pairs == [(0, 1), (1, 0), (2, 2)] and not match.in_order
    assert match.how == "by name (3 parameters), after removing 'model.' from b's names"
    assert comparing.match_parameters(plain, fabric).in_order
    renamed = params(("fc1.weight", [4, 3]), ("fc1.bias", [4]), ("fc2.weight", [1, 4]))
    assert comparing.match_parameters(plain, renamed).how.startswith("by order and shape")
    with pytest.raises(comparing.UnusableInput, match="different models"):
        comparing.match_parameters(plain, params(("0.weight", [5, 3]), ("0.bias", [5]), ("2.weight", [1, 5])))


def test_the_command_runs_as_a_module_and_is_a_console_script(tmp_path):
    scripts = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["loopdiff"] == "evidence.loopdiff:main"
    (tmp_path / "foreign.json").write_text("[]")
    done = subprocess.run([sys.executable, "-m", "evidence.loopdiff", "diff", "foreign.json", "foreign.json"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 3 and done.stderr.startswith("loopdiff: error: foreign.json is not a loopdiff")


def test_the_page_declares_its_runs_and_shows_each_session():
    runs = {run.name: run for run in declared.runs("loopdiff")}
    assert set(runs) == {"identical", "scheduler"} and runs["identical"].worker == "evidence.loopdiff.worker"
    assert runs["identical"].params["exit"] == 0 and runs["scheduler"].params["exit"] == 2
    report = {"topic": "loopdiff", "run": "scheduler", "environment": {}, "spec": {},
              "records": [{"command": "loopdiff record -o a.json t.py", "exit_code": 0, "script_lines": 2,
                           "loopdiff_output": "loopdiff: recorded 4 optimizer steps", "output": ""}] * 2,
              "diff": {"command": "loopdiff diff a.json b.json", "exit_code": 2, "output": "PARTED at ...\n",
                       "summary": {"verdict": "different", "steps": [4, 4], "matched": ["by name (2 parameters)"],
                                   "parted": {"step": 2, "tensor": "0.bias", "value": 0.25}}}}
    shown = views.LoopDiffRun(runs["scheduler"], report)
    text = shown.session_text()
    assert text.startswith("$ loopdiff record -o a.json t.py\n[the script's own output: 2 line(s), left out here]")
    assert text.endswith("$ echo $?\n2")
    assert "They part at optimizer step 2 of 4 (exit code 2)" in shown.conclusion()
