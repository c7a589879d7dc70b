"""What the build does when things go wrong: damaged results, crashes, interrupts, two builds.

Shown on a copy of the project with fake topics (``tests/test_build.py``'s ``make_project``);
each case asserts the message, that no good result is lost, and what the next build re-runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.test_build import _free_port, _get, _wait_for, make_project, page

pytestmark = pytest.mark.site

DRIVER = """
import json, sys
from evidence import declared
from evidence.running import runner
topic = sys.argv[1]
reports = runner.execute(topic, declared.runs(topic))
print(json.dumps({name: r.get("error") for name, r in reports.items()}))
"""


def execute(project, topic: str, **env) -> dict:
    """Execute a topic's runs in the copy, as the build does, and return each run's error or None."""
    proc = subprocess.run([sys.executable, "-c", DRIVER, topic], cwd=project.root, env=project.env(**env),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project")


def crash_with(body: str) -> str:
    return "\n\ndef run(**kwargs):\n" + textwrap.indent(textwrap.dedent(body), "    ") + "\n"


def assert_no_process_left(project, wait: float) -> None:
    """Within ``wait`` seconds, no process whose command line names the copy is left."""
    def leftover() -> list[str]:
        found = subprocess.run(["pgrep", "-f", str(project.root)], capture_output=True, text=True).stdout.split()
        return [pid for pid in found if int(pid) != os.getpid()]

    deadline = time.monotonic() + wait
    while leftover() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not leftover(), subprocess.run(["ps", "-o", "pid,args", "-p", ",".join(leftover())],
                                          capture_output=True, text=True).stdout


@pytest.mark.slow  # minutes of builds: run with -m slow
def test_a_damaged_result_is_reported_discarded_and_run_again(project):
    assert project.build().returncode == 0
    cache = project.root / "docs" / "generated" / ".cache" / "alpha"
    entry = next(p for p in cache.glob("main-*.json") if not p.name.startswith("checks"))
    before = len(project.executions())
    entry.write_text(entry.read_text()[: len(entry.read_text()) // 2])  # truncated
    rebuilt = project.build()
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert "Discarded a damaged result of run 'main' of topic 'alpha'" in rebuilt.stderr
    assert project.executions()[before:] == ["alpha"] * (len(project.executions()) - before) != []
    entry = next(p for p in cache.glob("main-*.json"))
    entry.write_bytes(os.urandom(300))  # random bytes
    again = project.build()
    assert again.returncode == 0 and "Discarded a damaged result" in again.stderr
    assert "VALUE 1" in page(project, "alpha", 1)


@pytest.mark.slow  # minutes of builds: run with -m slow
def test_a_page_that_showed_a_failure_is_rendered_again_once_the_run_succeeds(project, tmp_path):
    project.write_topic("alpha", 1, program_extra=crash_with("import os\nif os.environ.get('BREAK'):\n"
                                                             "    raise ValueError('broken on purpose')\n"
                                                             "return {'model': __import__('torch').nn.Linear(1, 1)}"))
    failed = project.build(BREAK="1")
    assert failed.returncode != 0 and "broken on purpose" in failed.stderr
    fixed = project.build()  # the same key: only the run's success changed
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert "ValueError: broken on purpose" not in page(project, "alpha", 1)  # the traceback is gone


@pytest.mark.parametrize("body, expected", [
    ("import os\nos.abort()", ["SIGABRT", "snippets/alpha/pytorch_alpha.py", "logged run", "Fatal Python error"]),
    pytest.param("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
                 ["SIGKILL", "perhaps for memory", "snippets/alpha/pytorch_alpha.py"], marks=pytest.mark.slow),
    pytest.param("import ctypes\nctypes.string_at(0)", ["SIGSEGV", "Fatal Python error: Segmentation fault"],
                 marks=pytest.mark.slow),
], ids=["abort", "kill-9", "segfault"])
def test_a_crash_names_the_signal_the_program_and_the_stack(project, body, expected):
    project.write_topic("alpha", 1, program_extra=crash_with(body))
    errors = execute(project, "alpha")
    text = errors["main"]["location"] + "\n" + errors["main"]["traceback"]
    for needle in expected:
        assert needle in text, text[-2000:]


def test_a_timed_out_run_ends_every_process_its_program_started(project):
    """A program whose child started a process in a session of its own (as torchrun starts each rank)
    and then hangs: the timeout names the run, and neither the child nor the grandchild is left."""
    grandchild = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; "
                  "time.sleep(600)', sys.argv[1]], start_new_session=True); time.sleep(600)")
    body = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {grandchild!r}, {str(project.root)!r}])"
    project.write_topic("alpha", 1, program_extra=crash_with(body))
    errors = execute(project, "alpha", DOCS_EXAMPLE_TIMEOUT="5")
    assert errors["main"]["location"] == "timeout" and "DOCS_EXAMPLE_TIMEOUT" in errors["main"]["traceback"]
    assert_no_process_left(project, wait=5)


@pytest.mark.slow  # minutes of builds: run with -m slow
def test_a_runaway_allocation_is_a_memory_error_naming_the_line(project):
    project.write_topic("alpha", 1, program_extra=crash_with("import torch\nreturn torch.ones(2**31)"))
    errors = execute(project, "alpha", DOCS_WORKER_MEMORY_GB="1")
    assert "snippets/alpha/pytorch_alpha.py" in errors["main"]["location"]
    assert "MemoryError" in errors["main"]["traceback"] or "can't allocate memory" in errors["main"]["traceback"]


@pytest.mark.slow  # minutes of builds: run with -m slow
def test_two_builds_on_one_cache_run_each_run_once(project, tmp_path):
    """Two checkouts sharing one result cache (DOCS_CACHE_DIR), built at once: the second waits for
    the first's runs instead of running them again."""
    import shutil

    other = tmp_path / "other"
    shutil.copytree(project.root, other)
    cache = str(tmp_path / "shared-cache")
    builds = [subprocess.Popen([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=root,
                               env={**project.env(DOCS_CACHE_DIR=cache), "PYTHONPATH": str(root)},
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True) for root in (project.root, other)]
    errors = [b.communicate(timeout=600)[1] for b in builds]
    assert [b.returncode for b in builds] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    assert any("Another build is executing runs on this cache" in e for e in errors)
    runs = project.executions()  # both copies log to the same file
    # each topic's one run calls its program in the logged, recorded, memory and timed phases,
    # once each: four calls, not eight
    assert runs.count("alpha") == runs.count("beta") == 4, runs


@pytest.mark.slow  # minutes of builds: run with -m slow
def test_ctrl_c_stops_within_seconds_keeps_what_finished_and_leaves_no_orphan(project):
    """Ctrl-C while a topic's second run sleeps: the build ends within seconds, the first run's
    result is kept, no worker is left, and the next build runs only the run that did not finish."""
    slow = crash_with("import os, time, torch\nwith open(os.environ['EXEC_LOG'], 'a') as log:\n"
                      "    log.write('alpha\\n')\nif epochs == 3 and os.environ.get('SLOW'):\n    time.sleep(120)\n"
                      "return {'model': torch.nn.Linear(1, 1)}").replace("def run(**kwargs)", "def run(epochs=2, **kwargs)")
    runs = "[runs.main]\nparams = { epochs = 2 }\nrepeats = 1\n\n[runs.slow]\nparams = { epochs = 3 }\nrepeats = 0\n"
    project.write_topic("alpha", 1, program_extra=slow, runs=runs)
    build = subprocess.Popen([sys.executable, "-m", "mkdocs", "build"], cwd=project.root,
                             env=project.env(SLOW="1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    cache = project.root / "docs" / "generated" / ".cache" / "alpha"
    deadline = time.monotonic() + 240
    while not list(cache.glob("main-*.json")) or project.executions().count("alpha") < 5:
        assert time.monotonic() < deadline and build.poll() is None, "the first run never finished"
        time.sleep(0.5)
    time.sleep(2)  # the second run is sleeping now
    os.killpg(build.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole process group
    started = time.monotonic()
    build.wait(timeout=60)
    assert time.monotonic() - started < 30

    assert_no_process_left(project, wait=15)  # the fork server ends its workers when the build is gone
    assert list(cache.glob("main-*.json")) and not list(cache.glob("slow-*.json"))
    before = project.executions().count("alpha")
    assert project.build().returncode == 0
    assert project.executions().count("alpha") - before == 2  # only 'slow' (logged and memory calls) ran again


@pytest.mark.slow  # minutes of builds: run with -m slow
def test_serve_with_selected_pages_settles_after_an_edit(project):
    """DOCS_PAGES and the file watcher do not feed each other: an unselected page that loads the
    edited topic keeps its output, so the builds stop once the edit is shown."""
    import threading

    project.write_topic("beta", 2, before='load("alpha")\n')  # beta's page loads alpha too
    assert project.build().returncode == 0
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{port}"],
                              cwd=project.root, env=project.env(DOCS_PAGES="alpha"), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    lines: list[tuple[float, str]] = []
    threading.Thread(target=lambda: [lines.append((time.monotonic(), line)) for line in server.stdout],
                     daemon=True).start()
    url = f"http://127.0.0.1:{port}/generated/topics/01_alpha/plot_alpha/"
    try:
        assert _wait_for(lambda: "VALUE 1" in _get(url), 180)
        program = project.root / "snippets" / "alpha" / "pytorch_alpha.py"
        program.write_text(program.read_text().replace("VALUE 1", "VALUE 5"))
        assert _wait_for(lambda: "VALUE 5" in _get(url), 180)
        shown = time.monotonic()
        time.sleep(30)  # long enough for a feedback loop to show (the old one rebuilt every ~9 s)
    finally:
        server.terminate()
        server.wait(timeout=30)
    late = [line for t, line in lines if t > shown + 10 and "Building documentation" in line]
    assert not late, "".join(line for _, line in lines)[-3000:]
