"""Shared test set-up: the warning allow-list, program helpers and the built site."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from evidence.running import policy
from evidence.programs import program_path

PROJECT_DIR = Path(__file__).resolve().parents[1]

THREADS_SET = pytest.StashKey[bool]()


def pytest_configure(config):
    # the same allow-list the published output uses (evidence/running/policy.py)
    for line in policy.pytest_filters():
        config.addinivalue_line("filterwarnings", line)
    # pytest-xdist runs a worker per core, and each would run torch's kernels on every core: share
    # the cores out instead (oversubscribed, torch's threads spin and wait on each other). Set
    # before any test module imports torch; the programs the tests start inherit it, the build
    # of the site does not (`built_site`).
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    config.stash[THREADS_SET] = workers is not None and "OMP_NUM_THREADS" not in os.environ
    if config.stash[THREADS_SET]:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // int(workers)))


def load_program(topic: str, kind: str):
    """Import ``snippets/<topic>/<prefix>_<topic>.py`` as a module."""
    return importlib.import_module(f"snippets.{topic}.{program_path(topic, kind).stem}")


def exit_code(main, argv: list[str]) -> int:
    """A program's exit code for ``argv``, as the shell sees it: what ``main`` returns, or the code
    of the ``SystemExit`` it raises (argparse's, or ``parser.exit`` for a bad value)."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def run_program(topic: str, kind: str, run_name: str | None = None, **kwargs) -> dict:
    """One program's ``run(**kwargs)`` with what the harness adds (`evidence.running.gather`):
    ``state_dict``, ``steps``, ``device``, a Lightning program's logged ``history``, and the
    values the run's ``gather`` table reads from the files the program wrote (in the current
    folder: tests that write files run in ``tmp_path``, see ``in_tmp``)."""
    from evidence import declared
    from evidence.running.gather import gathered_run

    module = load_program(topic, kind)
    declared_gather = declared.run(topic, run_name).gather
    result, _ = gathered_run(module.run, kwargs, declared_gather, device=kwargs.get("device", "cpu"))
    return result


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(distributions: list[str]) -> set[str]:
    """``distributions`` (requirement strings, extras allowed: ``jsonargparse[signatures]``) and
    everything they depend on, as canonical names."""
    found, seen, todo = set(), set(), [Requirement(d) for d in distributions]
    while todo:
        requirement = todo.pop()
        key = (_canonical(requirement.name), tuple(sorted(requirement.extras)))
        if key in seen:
            continue
        seen.add(key)
        found.add(_canonical(requirement.name))
        for line in metadata.requires(requirement.name) or []:
            dependency = Requirement(line)
            extras = [""] + sorted(requirement.extras)
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in extras):
                todo.append(Requirement(dependency.name + (f"[{','.join(sorted(dependency.extras))}]" if dependency.extras else "")))
    return found


_ENVIRONMENTS: dict[frozenset, Path] = {}


def environment_with(distributions: list[str], root: Path) -> Path:
    """A folder holding only ``distributions`` and what they depend on, linked from this
    environment's site-packages: run with ``python -S`` and this folder on ``sys.path``, a
    program sees what a fresh ``pip install`` of those packages would give it."""
    key = frozenset(closure(distributions))
    if key in _ENVIRONMENTS and _ENVIRONMENTS[key].exists():
        return _ENVIRONMENTS[key]
    folder = root / ("env-" + "-".join(sorted(key)))[:120]
    folder.mkdir(parents=True, exist_ok=True)
    for dist in metadata.distributions():
        if _canonical(dist.metadata["Name"]) not in key:
            continue
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if ".." not in Path(str(f)).parts}
        base = Path(dist.locate_file(""))
        for top in tops:
            if not (folder / top).exists() and (base / top).exists():
                (folder / top).symlink_to(base / top)
    _ENVIRONMENTS[key] = folder
    return folder


RUN_IN = "import runpy, sys; sys.path.append(sys.argv.pop(1)); sys.argv.pop(0); runpy.run_path(sys.argv[0], run_name='__main__')"
"""``python -S -c RUN_IN <folder> <program> <args>``: run a program with only ``folder`` for packages."""


def run_downloaded(topic: str, kinds: list[str], args: list[str], folder: Path, timeout: float = 300,
                   only: dict[str, list[str]] | None = None) -> dict[str, subprocess.CompletedProcess]:
    """Copy programs alone into their own sub-folders of ``folder`` (as a reader's downloads)
    and run each there as ``python <file> <args>``, all at once (start-up dominates).

    ``only`` maps a kind to the distributions its environment holds: any other third-party
    module (beyond what those depend on) fails to import, as in a fresh environment.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONWARNINGS"] = "ignore"  # the program's own output is what is checked here
    running = {}
    for kind in kinds:
        source = program_path(topic, kind)
        work = folder / kind
        work.mkdir()
        shutil.copyfile(source, work / source.name)
        command = [sys.executable, source.name, *args]
        if only and kind in only:
            packages = environment_with(only[kind], folder.parent / "environments")
            command = [sys.executable, "-S", "-c", RUN_IN, str(packages), source.name, *args]
        running[kind] = subprocess.Popen(command, cwd=work, env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = {}
    for kind, proc in running.items():
        out, err = proc.communicate(timeout=timeout)
        done[kind] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


@pytest.fixture
def outside_repo(tmp_path: Path) -> Path:
    """An empty folder outside the repository, like a reader's download folder."""
    folder = tmp_path / "download"
    folder.mkdir()
    assert PROJECT_DIR not in folder.parents
    return folder


SAMPLE_PAGES = "minimal_loop|what_the_trainer_does|version_matrix|known_issues|api_changes"
"""The pages the default run's site executes (``DOCS_PAGES``, a regex on their paths): a topic
page, the pages that read its trace and the recorded matrix and replays, and the migration
page; the others are built unexecuted. A session that selects a slow test needing the site
(``-m slow``, ``-m "slow or not slow"``) builds the whole site instead."""

FULL_SITE = pytest.StashKey[bool]()


SITE_FILES = ("tests/test_accessibility.py", "tests/test_browser.py", "tests/test_lighthouse.py",
              "tests/test_links.py", "tests/test_privacy.py", "tests/test_site.py")
"""The test files that read the built site (`built_site`): pytest-xdist runs them on one worker."""


@pytest.hookimpl(trylast=True)  # after ``-m`` deselected what it deselects
def pytest_collection_modifyitems(config, items):
    """Whether a selected slow test needs the site (which makes this session's `built_site` the
    whole site); and that every test needing it is in one of `SITE_FILES`."""
    readers = {item.nodeid.split("::")[0] for item in items if "built_site" in item.fixturenames}
    if readers - set(SITE_FILES):
        raise pytest.UsageError(f"tests/conftest.py: add {sorted(readers - set(SITE_FILES))} to SITE_FILES")
    config.stash[FULL_SITE] = any(item.get_closest_marker("slow") and "built_site" in item.fixturenames
                                  for item in items)


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's ``loadfile`` (a test file stays whole on one worker, its module fixtures
    run once), except that `SITE_FILES` are one unit: the site is built and its pages are
    visited once, on one worker, from the start (it is handed out first), while the other
    worker runs everything else instead of waiting for them."""
    from xdist.scheduler import LoadScopeScheduling

    class SiteFilesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "site" if path in SITE_FILES else path

        def _assign_work_unit(self, node) -> None:
            if "site" in self.workqueue:
                self.workqueue.move_to_end("site", last=False)  # the first unit handed out
            super()._assign_work_unit(node)

    return SiteFilesTogether(config, log)


@pytest.fixture(scope="session")
def full_site(request) -> bool:
    """Whether this session's ``built_site`` is the whole site (else the sample, `SAMPLE_PAGES`)."""
    return request.config.stash.get(FULL_SITE, False)


def _shared(tmp_path_factory, request) -> Path:
    """The session's folder that every pytest-xdist worker sees (the base folder without xdist)."""
    shared = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # an xdist worker
        shared = shared.parent  # the folder every xdist worker's own base folder sits in
    return shared


@pytest.fixture(scope="session")
def built_site(tmp_path_factory, request, full_site) -> Path:
    """The site, built once per test session with ``mkdocs build --strict``: the whole site when
    the session runs a slow test that needs it, else with only `SAMPLE_PAGES` executed (what
    keeps the default run within minutes in a fresh clone).

    Executed results are reused from ``docs/generated/`` when their inputs are unchanged
    (the build's own cache), so a session after a build is quick; a fresh clone executes
    what the site shows. With pytest-xdist the workers share one build: the first to need it
    builds under a file lock, the others wait and reuse it (or its failure).
    """
    from filelock import FileLock

    shared = _shared(tmp_path_factory, request)
    name = "built-site" if full_site else "built-sample-site"
    site, failed = shared / name, shared / f"{name}.failed"
    with FileLock(str(shared / f"{name}.lock")):
        if failed.exists():
            pytest.fail(failed.read_text(), pytrace=False)
        if not (site / ".build-log.txt").exists():
            shutil.rmtree(site, ignore_errors=True)
            env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
            env.pop("DOCS_EXECUTE", None)
            env.pop("DOCS_PAGES", None)
            if request.config.stash[THREADS_SET]:
                env.pop("OMP_NUM_THREADS")  # the results it stores are the site's: built as a reader builds
            if not full_site:
                env["DOCS_PAGES"] = SAMPLE_PAGES
            proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                                  cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                failed.write_text(f"mkdocs build --strict failed:\n{proc.stderr[-6000:]}")
                pytest.fail(failed.read_text(), pytrace=False)
            (site / ".build-log.txt").write_text(proc.stderr)
    return site


@pytest.fixture(scope="session")
def published_topics(built_site) -> list[str]:
    """The topics the built site publishes results of, in page order: every topic with a stored
    result of its headline run (a sample build executes `SAMPLE_PAGES` and keeps whatever an
    earlier build of the same inputs stored)."""
    from evidence import declared
    from evidence.programs import topics
    from evidence.running import runner

    return [t for t in topics() if runner.stored(declared.run(t)) is not None]


# -- the browser (pytest-playwright) and the site server -------------------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch options, pointed at Debian's Chromium (or ``CHROMIUM_PATH``):
    Playwright's own browser downloads do not work offline. Without one the browser checks skip,
    saying how to install it; with the CI variable set they fail instead."""
    from tests import sitecheck

    executable = sitecheck.chromium_path()
    if executable is None:
        sitecheck.no_browser("no Chromium found (looked at CHROMIUM_PATH, /usr/bin/chromium and PATH)")
    return {**browser_type_launch_args, "executable_path": executable, "args": sitecheck.CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def server(built_site):
    """The built site served on 127.0.0.1 (at the root); yields its base URL."""
    from tests import sitecheck

    with sitecheck.serve(built_site) as base:
        yield base


@pytest.fixture(scope="session")
def visits(browser_type_launch_args, server, built_site, full_site, tmp_path_factory, request) -> dict[str, dict]:
    """The pages of the built site opened once each in Chromium; what each page showed, by page
    (see ``tests.sitecheck.visit_every_page``): the browser and the accessibility tests read it.
    Colours are checked, in both palettes, on the pages that hold every kind of element between
    them (``tests.sitecheck.covering_pages``), which are also the only pages a sample site's
    session opens; a session with the whole site opens every page (and ``-m slow`` checks colours
    on the others). With pytest-xdist the first worker to ask visits, the others read its record."""
    import json

    from filelock import FileLock

    from tests import sitecheck

    colours = set(sitecheck.covering_pages(built_site))
    saved = _shared(tmp_path_factory, request) / f"{built_site.name}.visits.json"
    with FileLock(f"{saved}.lock"):  # one visit of the pages per session, whichever worker asks first
        if saved.exists():
            results = json.loads(saved.read_text())
        else:
            results = sitecheck.visit_every_page(browser_type_launch_args, server, built_site, colours=colours,
                                                 only=None if full_site else colours)
            saved.write_text(json.dumps(results))
    assert len(results) >= len(colours) and (not full_site or len(results) > 20), sorted(results)
    return results


def rank_exits(program: Path, folder: Path, *arguments: str, ranks: int = 2) -> list[dict]:
    """How each rank of ``program`` (started by torchrun, in ``folder``, with ``arguments``) ends its
    gloo process group: tests/rank_exit_probe.py's report of every rank."""
    if not Path("/proc/self/task").is_dir():
        pytest.skip("thread names come from /proc/self/task (Linux)")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}"]
    probe = PROJECT_DIR / "tests" / "rank_exit_probe.py"
    job = subprocess.run([*torchrun, str(probe), str(program), str(folder), *arguments], cwd=folder,
                         capture_output=True, text=True, timeout=600)
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    return [json.loads((folder / f"rank{rank}.json").read_text()) for rank in range(ranks)]
