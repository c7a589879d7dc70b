"""evidence/checks.py: declared checks across runs and against values, evaluated by one function."""

from __future__ import annotations

import pytest

from evidence import checks, declared
from evidence.checks import Check, evaluate


def report(run: str, **impls) -> dict:
    return {"run": run, "implementations": impls, "parity": None}


REPORTS = {
    "fp32": report("fp32", pytorch={"loss": [1.0, 0.5]}, lightning={"loss": [1.0, 0.5]}),
    "bf16": report("bf16", pytorch={"loss": [1.0, 0.502]}, lightning={"loss": [1.0, 0.5]}),
    "trap": report("trap", pytorch={"loss": [1.0, 0.9], "epoch": 3}, lightning={"loss": [1.0, 0.9], "epoch": 9}),
}


def check(**kwargs) -> Check:
    return Check("toy", kwargs.pop("name", "c"), kwargs.pop("say", "a sentence"), **kwargs)


def test_every_implementation_is_paired_and_the_largest_difference_decides():
    found = evaluate(check(a="bf16/*/loss", b="fp32/*/loss", tolerance=5e-3), REPORTS)
    assert found["value"] == pytest.approx(0.002) and found["verdict"] == "close" and found["expected"]
    assert found["implementations"] == ["pytorch", "lightning"]
    tight = evaluate(check(a="bf16/*/loss", b="fp32/*/loss", tolerance=1e-3), REPORTS)
    assert tight["verdict"] == "differs" and not tight["expected"]  # a false claim is caught


def test_a_variant_that_should_differ_and_a_literal_value():
    assert evaluate(check(a="trap/pytorch/loss", b="fp32/pytorch/loss", expect="differs"), REPORTS)["expected"]
    assert evaluate(check(a="trap/lightning/epoch", b=9, expect="identical"), REPORTS)["expected"]
    assert not evaluate(check(a="trap/lightning/epoch", b=8, expect="identical"), REPORTS)["expected"]


def test_less_and_greater_compare_numbers():
    less = evaluate(check(a="trap/pytorch/epoch", b="trap/lightning/epoch", expect="less"), REPORTS)
    assert less["verdict"] == "less" and less["value"] == -6 and less["expected"]
    greater = evaluate(check(a="trap/pytorch/epoch", b="trap/lightning/epoch", expect="greater"), REPORTS)
    assert greater["verdict"] == "not greater" and not greater["expected"]


def test_within_run_checks_follow_the_runs_expectation():
    parity = {"tolerance": 0.0, "checks": [{"metric": "state_dict", "pair": ["pytorch", "lightning"], "value": 0.3,
                                            "verdict": "differs"}]}
    found = {"run": "v", "parity": parity}
    assert not checks.within_run(found)[0]["expected"]
    assert checks.within_run(found, "differs")[0]["expected"]


def test_declarations_are_validated(monkeypatch, tmp_path):
    (tmp_path / "runs.toml").write_text('[runs.train]\nparams = {}\n\n[[checks]]\nname = "x"\nsay = "s"\n'
                                        'a = "nope/pytorch/loss"\nb = 1\n')
    monkeypatch.setattr(declared, "folder", lambda topic: tmp_path)
    with pytest.raises(declared.DeclarationError, match="names run 'nope'"):
        checks.declared_checks("toy")
    (tmp_path / "runs.toml").write_text('[runs.train]\nparams = {}\n\n[[checks]]\nname = "x"\nsay = "s"\n'
                                        'a = "train/pytorch/loss"\nb = 1\nexpect = "roughly"\n')
    with pytest.raises(declared.DeclarationError, match="expect = 'roughly'"):
        checks.declared_checks("toy")


def test_every_topics_checks_are_well_formed():
    from evidence.programs import topics

    for topic in topics():
        for found in checks.declared_checks(topic):
            assert found.say.strip() and found.name.strip()
