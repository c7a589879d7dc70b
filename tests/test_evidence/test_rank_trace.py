"""evidence.running.rank_trace: the calls of rank 0 of a job that torchrun starts, recorded in that
process and compared with a reference recording step by step."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evidence.running import rank_trace

PROGRAM = textwrap.dedent('''
    import os, subprocess, sys
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel


    def train(lr):
        dist.init_process_group("gloo")
        torch.manual_seed(0)
        model = DistributedDataParallel(torch.nn.Linear(3, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        for step in range(2):
            loss = model(torch.ones(4, 3) * (dist.get_rank() + step)).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        dist.destroy_process_group()


    def run(lr):
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                        os.path.abspath(__file__), str(lr)], check=True, capture_output=True)


    if __name__ == "__main__":
        if "LOCAL_RANK" in os.environ:
            train(float(sys.argv[1]))
        else:
            run(float(sys.argv[1]))
''')


def record(program: Path, folder: Path, lr: float, reference: Path | None = None):
    with rank_trace.recording(program, folder, reference):
        subprocess.run([sys.executable, str(program), str(lr)], check=True, timeout=300)
    return rank_trace.read(folder)


@pytest.mark.slow  # three two-rank torchrun jobs
def test_rank_0_is_recorded_in_its_own_process_and_compared_with_the_reference(tmp_path):
    program = tmp_path / "ddp_program.py"
    program.write_text(PROGRAM)
    reference = record(program, tmp_path / "reference", 0.1)
    assert reference is not None, "rank 0 wrote no recording"
    ops = [(e["op"], e["by"]) for e in reference.report()["events"]]
    assert ops.count(("optimizer.step", "train")) == 2 and ops.count(("backward", "train")) == 2
    assert [line["step"] for line in reference.ledger] == [1, 2] and reference.first_divergence is None
    assert (tmp_path / "reference" / "snapshots.pt").is_file()  # what the next recording compares with
    same = record(program, tmp_path / "same", 0.1, reference=tmp_path / "reference")
    assert same.first_divergence is None and same.ledger == reference.ledger
    other = record(program, tmp_path / "other", 0.2, reference=tmp_path / "reference")
    assert other.first_divergence["step"] == 1 and other.first_divergence["value"] > 0
    assert other.first_divergence["tensor"] in ("weight", "bias")


def test_only_rank_0_of_the_named_program_records(tmp_path, monkeypatch):
    """start() runs in every process of a job: it records nothing without the variables (a reader's own
    torchrun job), in another rank, or in a process running another main file."""
    import torch

    program = tmp_path / "ddp_program.py"
    program.write_text(PROGRAM)
    original = torch.autograd.backward
    cases = [({"RANK": "0"}, program), ({"RANK": "1", rank_trace.FOLDER: str(tmp_path), rank_trace.PROGRAM: str(program)},
                                         program),
             ({"RANK": "0", rank_trace.FOLDER: str(tmp_path), rank_trace.PROGRAM: str(program)}, tmp_path / "other.py")]
    for env, main in cases:
        with monkeypatch.context() as patch:
            for name in ("RANK", rank_trace.FOLDER, rank_trace.PROGRAM):
                patch.delenv(name, raising=False)
            for name, value in env.items():
                patch.setenv(name, value)
            patch.setattr(sys, "argv", [str(main)])
            rank_trace.start()
        assert torch.autograd.backward is original, env


def test_a_recording_restores_the_environment(tmp_path):
    import os

    program = tmp_path / "ddp_program.py"
    program.write_text(PROGRAM)
    names = (rank_trace.FOLDER, rank_trace.PROGRAM, rank_trace.REFERENCE, "PYTHONPATH")
    before = {k: os.environ.get(k) for k in names}
    with rank_trace.recording(program, tmp_path / "folder"):
        assert os.environ["PYTHONPATH"].split(os.pathsep)[0] == str(tmp_path / "folder" / "site")
    assert {k: os.environ.get(k) for k in names} == before
