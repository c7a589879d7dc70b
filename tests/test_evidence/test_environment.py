"""evidence/running/environment.py: the fingerprint names what torch itself would report."""

from __future__ import annotations

import torch

from evidence.running import environment


def test_fingerprint_agrees_with_torch():
    found = environment.fingerprint()
    assert found["torch"] == torch.__version__
    assert found["device"] == ("cuda" if torch.cuda.is_available() else "cpu")


def test_no_gpu_device_node_means_torch_finds_no_gpu():
    if not environment.gpu_possible():
        assert not torch.cuda.is_available()
    assert environment.device_kind() == ("cuda" if torch.cuda.is_available() else "cpu")


def test_where_a_gpu_could_be_torch_is_asked(monkeypatch):
    monkeypatch.setattr(environment, "gpu_possible", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert environment.device_kind() == "cuda"
