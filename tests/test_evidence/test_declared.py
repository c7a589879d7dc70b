"""evidence/declared.py: runs declared in runs.toml, variants merged over the headline."""

from __future__ import annotations

import pytest

from evidence import declared
from evidence.programs import topics


@pytest.fixture
def topic_folder(tmp_path, monkeypatch):
    folder = tmp_path / "snippets" / "toy"
    folder.mkdir(parents=True)
    monkeypatch.setattr(declared, "SNIPPETS_DIR", tmp_path / "snippets")
    monkeypatch.setattr(declared, "MACHINERY_TOPICS", ())
    return folder


def test_variants_start_from_the_headline(topic_folder):
    (topic_folder / "runs.toml").write_text('''
headline = "main"

[runs.main]
about = "the headline"
params = { epochs = 5, seed = 0 }
compare = ["state_dict", "history.val_loss"]
tolerance = 1e-6
overrides = { lightning = { a = 1 } }

[runs.other]
params = { epochs = 2 }
overrides = { lightning = { b = 2 } }
repeats = 0
''')
    main, other = declared.runs("toy")
    assert main.headline and main.name == "main" and main.about == "the headline"
    assert main.repeats == 5 and main.threads == 1  # defaults
    assert other.params == {"epochs": 2, "seed": 0}
    assert other.overrides == {"lightning": {"a": 1, "b": 2}}
    assert other.compare == ("state_dict", "history.val_loss") and other.tolerance == 1e-6
    assert other.repeats == 0 and other.about == "" and not other.headline
    assert declared.run("toy").name == "main" and declared.run("toy", "other") == other


def test_the_first_run_is_the_headline_by_default(topic_folder):
    (topic_folder / "runs.toml").write_text('[runs.b]\nparams = {}\n[runs.a]\nparams = {}\n')
    assert [r.name for r in declared.runs("toy")] == ["b", "a"]


@pytest.mark.parametrize("text, message", [
    ("", "declares no"),
    ('headline = "x"\n[runs.a]\nparams = {}\n', "names no run"),
    ('[runs.a]\nparams = {}\nrepeat = 3\n', "unknown key"),
    ('[runs.a]\nparams = {}\nneeds = ["tpu"]\n', 'only "cuda"'),
    ('[runs.a\n', "runs.toml"),
])
def test_mistakes_are_clear_errors(topic_folder, text, message):
    (topic_folder / "runs.toml").write_text(text)
    with pytest.raises(declared.DeclarationError, match=message):
        declared.runs("toy")


def test_a_topic_without_runs_toml_is_a_clear_error(topic_folder):
    with pytest.raises(declared.DeclarationError, match="no runs.toml declares the runs of 'nothing'"):
        declared.runs("nothing")


def test_every_topic_declares_its_runs():
    for topic in topics():
        runs = declared.runs(topic)
        assert runs[0].headline and runs[0].params, topic
        assert len({r.name for r in runs}) == len(runs), topic
    assert {"benchmarks", "api_changes"} <= set(declared.folders())
