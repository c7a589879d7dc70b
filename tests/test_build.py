"""Build behaviour (evidence/hooks/), shown on a temporary copy of the project.

The copy keeps the real machinery (mkdocs.yml, the hooks, the ``evidence`` package) and
replaces the topics with two tiny fake ones, ``alpha`` and ``beta``, added the way the
contributing page says (the files it lists, nothing else). Their programs append a line to a
log file each time they run: the tests count executions instead of trusting the build's
messages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

pytestmark = pytest.mark.site

PROGRAM = '''"""Fake topic {name} for the build tests."""

import os

import torch


def run(epochs: int = 2, seed: int = 0, device: str = "auto", lr: float = 0.1, verbose: bool = False) -> dict:
    torch.manual_seed(seed)
    with open(os.environ["EXEC_LOG"], "a") as log:
        log.write("{name}\\n")
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    history = {{"train_loss": []}}
    for _ in range(epochs):
        loss = model(torch.ones(3)).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history["train_loss"].append(loss.item())
    if verbose:
        print("VALUE {value}")
    return {{"model": model, "history": history}}
'''

SCRIPT = '''"""
# Topic {name}

A fake topic for the build tests.
"""

# %%
# <!-- implementations -->

from evidence import load

{before}
result = load("{name}").headline
result.logs()
{extra}
'''

RUNS = '''[runs.main]
params = { epochs = 2 }
repeats = 1
'''

RUNS_WITH_CHECK = RUNS + '''
[runs.slower]
params = { lr = 0.01 }
repeats = 0

[[checks]]
name = "smaller_steps_learn_less"
say = "with a tenth of the learning rate the last loss is higher"
a = "main/pytorch/history.train_loss.-1"
b = "slower/pytorch/history.train_loss.-1"
expect = "less"
'''

FIGURE = '''
# %%
from evidence.views import figures

runs = load("{name}")
fig, (ax,) = figures.panels(1)
for run in ("main", "slower"):
    figures.overlay(ax, "pytorch", [1, 2], runs[run].value("pytorch", "history.train_loss"))
fig.suptitle("{name}: loss of both runs")

# %%
runs.verdicts()
'''

TEST = '''from tests.conftest import run_program


def test_{name}_runs():
    assert run_program("{name}", "pytorch", epochs=1)["steps"] == 1  # counted by the harness
'''


class Project:
    """A copy of the project with fake topics, built with the real MkDocs configuration."""

    def __init__(self, root: Path):
        self.root = root
        self.exec_log = root / "exec.log"

    def write_topic(self, name: str, number: int, value: int = 1, extra: str = "", program_extra: str = "",
                    before: str = "", runs: str = RUNS) -> set[str]:
        """Add (or rewrite) a topic with the files the contributing page lists; returns them."""
        files = {
            f"snippets/{name}/__init__.py": "",
            f"snippets/{name}/pytorch_{name}.py": PROGRAM.format(name=name, value=value) + program_extra,
            f"snippets/{name}/runs.toml": runs,
            f"gallery/topics/{number:02d}_{name}/README.md": f"## {name}\n",
            f"gallery/topics/{number:02d}_{name}/plot_{name}.py": SCRIPT.format(name=name, extra=extra, before=before),
            f"tests/test_{name}/__init__.py": "",
            f"tests/test_{name}/test_{name}.py": TEST.format(name=name),
        }
        for relative, text in files.items():
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return set(files)

    def executions(self) -> list[str]:
        return self.exec_log.read_text().split() if self.exec_log.exists() else []

    def env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCS_")}
        env.update(PYTHONPATH=str(self.root), EXEC_LOG=str(self.exec_log), NO_MKDOCS_2_WARNING="1", **extra)
        return env

    def build(self, **env) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=self.root,
                              env=self.env(**env), capture_output=True, text=True, timeout=600)


@pytest.fixture
def project(tmp_path) -> Project:
    return make_project(tmp_path / "project")


def make_project(root: Path) -> Project:
    """Copy the machinery into ``root`` and add the fake topics."""
    root.mkdir()
    shutil.copy(PROJECT_DIR / "mkdocs.yml", root)
    config = (root / "mkdocs.yml").read_text()
    nav_start = config.index("\nnav:")
    (root / "mkdocs.yml").write_text(config[:nav_start] + "\nnav:\n  - Overview: index.md\n"
                                     "  - Topics: generated/topics\n  - Benchmarks: generated/benchmarks\n"
                                     "  - Migration: generated/migration\n")
    (root / "docs" / "assets").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "docs" / "assets" / "extra.css", root / "docs" / "assets")
    (root / "docs" / "index.md").write_text("# Overview\n\n<!-- summary-table -->\n")
    # the machinery as it is, without the runs of the real benchmark and API-changes pages
    shutil.copytree(PROJECT_DIR / "evidence", root / "evidence",
                    ignore=shutil.ignore_patterns("__pycache__", "runs.toml"))
    (root / "tests").mkdir()
    for name in ("__init__.py", "conftest.py"):
        shutil.copy(PROJECT_DIR / "tests" / name, root / "tests")
    (root / "snippets").mkdir()
    shutil.copy(PROJECT_DIR / "snippets" / "__init__.py", root / "snippets")
    for gallery in ("topics", "explained", "benchmarks", "migration"):
        (root / "gallery" / gallery).mkdir(parents=True)
        (root / "gallery" / gallery / "README.md").write_text(f"# {gallery.title()}\n")
    project = Project(root)
    project.write_topic("alpha", 1)
    project.write_topic("beta", 2)
    return project


def page(project: Project, name: str, number: int) -> str:
    path = project.root / "site" / "generated" / "topics" / f"{number:02d}_{name}" / f"plot_{name}" / "index.html"
    return path.read_text()


def test_unchanged_tree_reexecutes_nothing_and_pages_stay_complete(project):
    first = project.build()
    assert first.returncode == 0, first.stderr
    assert sorted(set(project.executions())) == ["alpha", "beta"]
    count = len(project.executions())

    second = project.build()
    assert second.returncode == 0, second.stderr
    assert len(project.executions()) == count  # nothing ran again
    assert "VALUE 1" in page(project, "alpha", 1) and "VALUE 1" in page(project, "beta", 2)


@pytest.mark.slow  # minutes of builds: run with -m slow
def test_changed_snippet_reexecutes_its_topic_and_only_that_one(project):
    assert project.build().returncode == 0
    before = project.executions()
    project.write_topic("alpha", 1, value=2)  # the gallery script is unchanged; its program is not
    rebuilt = project.build()
    assert rebuilt.returncode == 0, rebuilt.stderr
    new = project.executions()[len(before):]
    assert new and set(new) == {"alpha"}
    assert "VALUE 2" in page(project, "alpha", 1)  # the page is not stale
    assert "VALUE 1" in page(project, "beta", 2)


@pytest.mark.slow  # minutes of builds: run with -m slow
def test_changed_harness_reexecutes_every_topic(project):
    assert project.build().returncode == 0
    before = len(project.executions())
    measure = project.root / "evidence" / "running" / "measure.py"
    measure.write_text(measure.read_text() + "\n# changed\n")
    assert project.build().returncode == 0
    assert set(project.executions()[before:]) == {"alpha", "beta"}


@pytest.mark.slow  # minutes of builds: run with -m slow
def test_failing_example_fails_the_build_naming_file_and_line(project):
    assert project.build().returncode == 0
    published = page(project, "alpha", 1)
    project.write_topic("alpha", 1, program_extra="\n\ndef run(**kwargs):\n    raise ValueError('broken on purpose')\n")
    failed = project.build()
    assert failed.returncode != 0
    line = len(PROGRAM.format(name="alpha", value=1).splitlines()) + 4
    assert f"snippets/alpha/pytorch_alpha.py:{line}" in failed.stderr
    assert "gallery/topics/01_alpha/plot_alpha.py" in failed.stderr
    assert "broken on purpose" in failed.stderr
    assert page(project, "alpha", 1) == published  # nothing half-executed was published


@pytest.mark.slow  # minutes of builds: run with -m slow
def test_hanging_examples_are_stopped_at_the_timeout(project):
    project.write_topic("alpha", 1, program_extra="\n\ndef run(**kwargs):\n    import time\n    time.sleep(120)\n")
    project.write_topic("beta", 2, before="import time\ntime.sleep(120)\n")
    started = time.monotonic()
    failed = project.build(DOCS_EXAMPLE_TIMEOUT="10")
    assert time.monotonic() - started < 90
    assert failed.returncode != 0
    assert "run 'main' of topic 'alpha' did not finish within its timeout of 10 s" in failed.stderr
    assert re.search(r"plot_beta\.py did not finish within the per-example timeout of 10 s", failed.stderr)


def test_time_waiting_for_another_topics_timed_phase_is_not_counted(tmp_path):
    from evidence.running.runner import _wait

    flag, result = tmp_path / "waiting-for-lock", tmp_path / "run.json"
    flag.touch()  # as a worker does while it waits for the lock
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    assert _wait(sleeper, result, timeout=1, waiting=flag) == "exited"  # 3 s of waiting, none counted

    writer = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep(2); open({str(result)!r}, 'w')"])
    assert _wait(writer, result, timeout=1, waiting=flag) == "done"
    writer.wait()
    result.unlink()

    flag.unlink()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    started = time.monotonic()
    assert _wait(sleeper, result, timeout=1, waiting=flag) == "timeout"
    assert time.monotonic() - started < 10 and sleeper.returncode is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except OSError:
        return ""


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(1)
    return False


@pytest.mark.slow  # minutes of builds: run with -m slow
def test_serve_survives_a_failing_example_and_recovers_when_it_is_fixed(project):
    good = PROGRAM.format(name="alpha", value=1)
    project.write_topic("alpha", 1, program_extra="\n\ndef run(**kwargs):\n    raise ValueError('broken on purpose')\n")
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{port}"],
                              cwd=project.root, env=project.env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/generated/topics/01_alpha/plot_alpha/"
    try:
        assert _wait_for(lambda: "broken on purpose" in _get(url), 180), "the page never showed the error"
        assert server.poll() is None  # still serving
        (project.root / "snippets" / "alpha" / "pytorch_alpha.py").write_text(good.replace("VALUE 1", "VALUE 3"))
        assert _wait_for(lambda: "VALUE 3" in _get(url), 180), "the page did not recover after the fix"
        assert "broken on purpose" not in _get(url)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "pytorch_alpha.py" in output  # the log named the failure


def contributing_file_list() -> set[str]:
    """The files a new topic adds, as the contributing page's first code block lists them."""
    text = (PROJECT_DIR / "docs" / "contributing.md").read_text()
    block = re.search(r"```text\n(.*?)```", text, re.S).group(1)
    return {line.split()[0] for line in block.splitlines() if line.strip()}


@pytest.mark.slow  # minutes of builds: run with -m slow
def test_a_topic_added_as_the_contributing_page_says_is_built_published_and_tested(project):
    """Files added in the places the contributing page names, nothing edited: the build runs the
    topic, publishes its page, downloads and summary entry, and its tests run."""
    written = project.write_topic("gamma", 3, runs=RUNS_WITH_CHECK, extra=FIGURE.format(name="gamma"))
    listed = {path.replace("<topic>", "gamma").replace("NN", "03") for path in contributing_file_list()}
    optional = {"snippets/gamma/lightning_gamma.py", "snippets/gamma/fabric_gamma.py"}  # the toy has plain only
    assert written == listed - optional
    built = project.build()
    assert built.returncode == 0, built.stderr[-3000:]
    shown = page(project, "gamma", 3)
    assert "VALUE 1" in shown
    assert "with a tenth of the learning rate the last loss is higher" in shown  # the declared check...
    assert 'alt="gamma: loss of both runs"' in shown  # ...and the figure only this topic draws
    assert re.search(r"Checks per topic: .*gamma 1 \(1 across runs\)", built.stderr)  # counted by the build
    summary = json.loads((project.root / "site" / "results" / "summary.json").read_text())
    assert [t["slug"] for t in summary["topics"]] == ["alpha", "beta", "gamma"]
    check = summary["topics"][2]["checks"][0]
    assert check["name"] == "smaller_steps_learn_less" and check["verdict"] == "less" and check["expected"]
    assert check["value"] < 0 and check["say"].startswith("with a tenth")
    assert (project.root / "site" / "downloads" / "gamma" / "pytorch_gamma.py").exists()
    tested = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_gamma"],
                            cwd=project.root, env=project.env(), capture_output=True, text=True, timeout=300)
    assert tested.returncode == 0, tested.stdout[-2000:]
