"""evidence/api_changes: every old call fails (or warns) on the installed Lightning, every replacement runs."""

from __future__ import annotations

import dataclasses

import pytest

from evidence.api_changes import cases as ac
from evidence.api_changes import views
from evidence.views.code import highlighted

CASES = {slug: (old, new) for slug, _title, old, new in ac.CASES}


@pytest.mark.parametrize("slug, argument", [("gpus", "gpus"), ("tpu_cores", "tpu_cores"),
                                            ("resume_from_checkpoint", "resume_from_checkpoint")])
def test_removed_trainer_arguments_raise_type_error(slug, argument):
    outcome = ac.attempt(CASES[slug][0])
    assert outcome.error_type == "TypeError"
    assert f"unexpected keyword argument '{argument}'" in outcome.error


def test_devices_replace_gpus():
    outcome = ac.attempt(ac.new_devices)
    assert outcome.ok and outcome.result == "DDPStrategy over 2 devices"


def test_accelerator_auto_runs_anywhere():
    outcome = ac.attempt(ac.new_accelerator_auto)
    assert outcome.ok and "device(s)" in outcome.result


def test_fit_ckpt_path_resumes_where_the_checkpoint_left_off():
    outcome = ac.attempt(ac.new_fit_ckpt_path)
    assert outcome.ok, outcome.error
    assert outcome.result == "resumed at epoch 1, finished after epoch 2 (8 steps)"


def test_precision_16_still_runs_but_warns():
    outcome = ac.attempt(ac.old_precision_16)
    assert outcome.ok
    assert any("`precision=16` is supported for historical reasons" in w for w in outcome.warnings)


def test_precision_mixed_string_is_accepted():
    outcome = ac.attempt(ac.new_precision_mixed)
    assert outcome.ok
    assert outcome.result in ("precision='bf16-mixed'", "precision='16-mixed'")


def test_old_epoch_end_hook_fails_at_fit():
    outcome = ac.attempt(ac.old_epoch_end_hook)
    assert outcome.error_type == "NotImplementedError"
    assert "training_epoch_end" in outcome.error and "on_train_epoch_end" in outcome.error


def test_new_epoch_end_hook_sees_every_epoch():
    outcome = ac.attempt(ac.new_on_epoch_end_hook)
    assert outcome.ok, outcome.error
    assert outcome.result.startswith("epoch means: [") and outcome.result.count(",") == 1


def test_outcome_says_what_happened():
    def shown(function) -> str:
        return views.outcome(dataclasses.asdict(ac.attempt(function)))

    assert "Raises TypeError" in shown(ac.old_gpus)
    assert "Runs on the installed Lightning" in shown(ac.new_accelerator_auto)
    assert "Runs, with warnings" in shown(ac.old_precision_16)


def test_the_page_shows_each_case_before_and_after():
    from evidence import declared

    case = {"slug": "gpus", "title": "gpus",
            "old": {"source": ac.source(ac.old_gpus), **dataclasses.asdict(ac.attempt(ac.old_gpus))},
            "new": {"source": ac.source(ac.new_devices), **dataclasses.asdict(ac.attempt(ac.new_devices))}}
    report = {"topic": "api_changes", "run": "attempts", "environment": {}, "cases": [case]}
    attempts = views.Attempts(declared.run("api_changes"), report)
    shown = attempts.show("gpus")
    order = [shown.index(text) for text in ("Before (Lightning 1.x)", "Raises TypeError", "After (Lightning 2.x)")]
    assert order == sorted(order)
    assert "old_gpus" in shown and "new_devices" in shown and "DDPStrategy over 2 devices" in shown
    # no line of the code blocks is indented by the gallery, which indents every line of an output
    block = highlighted(case["old"]["source"])
    assert "\n" not in block and "&#10;" in block
    with pytest.raises(KeyError, match="known: gpus"):
        attempts.show("nonsense")
