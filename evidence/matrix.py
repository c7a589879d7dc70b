"""Which Lightning versions each topic holds on: shards of the version matrix.

A *shard* is one Lightning version: an environment that holds that version of
``pytorch-lightning`` (and whatever of its requirements differ from this environment's) beside
this environment's torch, in which every topic's headline run executes once through the usual
worker. Plain PyTorch does not depend on Lightning, so its result is the reference each shard's
Lightning and Fabric programs are compared with. For every topic a shard records: ran or failed
(the error's last line), the parity verdict and the ledger's first divergence, the topic's
declared checks that read the headline run alone (`headline_checks`: written for the pinned
version, so one that does not hold on another version is where that version behaves otherwise),
the warnings the programs printed, and the time per step.

Each shard writes one file, ``evidence/recorded/matrix/lightning-<version>.json``, naming the
versions, the machine and the date, and the digest of its inputs (the programs, the running
machinery and the shard's configuration): a shard whose inputs are unchanged is not run again.
The build never runs shards; it renders the files present (``tools/version_matrix.py`` runs
them, locally or as the Pages workflow's matrix of jobs).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from evidence import declared
from evidence.programs import PROJECT_DIR, topics

VERSIONS = ("2.0.9", "2.1.4", "2.2.5", "2.3.3", "2.4.0", "2.5.5", "2.6.6")
"""One patch release of each Lightning 2.x minor version that installs beside the pinned torch
(the newest when the matrix was set up; 2.5.6 came out after 2.5.5 was chosen), oldest first;
the last is the project's own pinned version."""

RESULTS_DIR = PROJECT_DIR / "evidence" / "recorded" / "matrix"
ENVS_DIR = PROJECT_DIR / ".matrix" / "envs"
KIND = "version-matrix-shard"
SHARD_CONFIG = {"repeats": 1}
"""What a shard changes in each headline run: one timed round (the same for every version)."""

OLD_SETUPTOOLS = "setuptools<80"
"""Lightning 2.0-2.3 import ``pkg_resources``, which setuptools 80 and later no longer ship."""


class ShardError(RuntimeError):
    """A shard's environment could not be made (the version does not install here)."""


def pinned_version() -> str:
    from importlib import metadata

    return metadata.version("pytorch-lightning")


def shard_path(version: str, folder: Path | None = None) -> Path:
    return (folder or RESULTS_DIR) / f"lightning-{version}.json"


# -- environments -------------------------------------------------------------------------------

def _installed() -> dict[str, str]:
    from importlib import metadata

    return {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in metadata.distributions()}


def environment(version: str, log=print) -> str:
    """The Python interpreter of an environment holding Lightning ``version`` (made if missing).

    The environment is a venv whose site-packages holds only what differs from this
    environment (``pytorch-lightning`` itself, an older setuptools where it needs one); a
    ``.pth`` file puts this environment's site-packages after its own, so torch and the rest
    are shared rather than installed again.
    """
    if version == pinned_version():
        return sys.executable
    from filelock import FileLock  # a requirement of torch

    ENVS_DIR.mkdir(parents=True, exist_ok=True)
    with FileLock(str(ENVS_DIR / f"lightning-{version}.lock")):  # two processes never make one at once
        return _environment(version, log)


def _environment(version: str, log) -> str:
    env = ENVS_DIR / f"lightning-{version}"
    python = env / "bin" / "python"
    if python.exists() and _env_version(python) == version:
        return str(python)
    log(f"making an environment for pytorch-lightning {version} in {env}")
    subprocess.run([_base_python(), "-m", "venv", "--clear", str(env)], check=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz_project_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wanted = [f"pytorch-lightning=={version}", OLD_SETUPTOOLS]
    with tempfile.TemporaryDirectory() as tmp:
        constraints, report = Path(tmp) / "constraints.txt", Path(tmp) / "report.json"
        import torch

        constraints.write_text(f"torch=={torch.__version__.split('+')[0]}\n")
        proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed",
                               "--report", str(report), "-c", str(constraints), *wanted],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise ShardError(f"pytorch-lightning {version} does not install beside torch {torch.__version__}: "
                             + proc.stderr.strip().splitlines()[-1])
        resolved = [(i["metadata"]["name"], i["metadata"]["version"]) for i in json.loads(report.read_text())["install"]]
    installed = _installed()
    differ = [f"{n}=={v}" for n, v in resolved
              if installed.get(re.sub(r"[-_.]+", "-", n).lower()) != v and n.lower() != "torch"]
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", *differ],
                          capture_output=True, text=True)
    if proc.returncode != 0 or _env_version(python) != version:
        raise ShardError(f"installing {', '.join(differ)} failed: {proc.stderr.strip()[-500:]}")
    return str(python)


def _base_python() -> str:
    return getattr(sys, "_base_executable", None) or sys.executable


def _env_version(python: Path) -> str | None:
    proc = subprocess.run([str(python), "-c", "from importlib import metadata; "
                           "print(metadata.version('pytorch-lightning'))"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


# -- inputs and runs ----------------------------------------------------------------------------

def shard_runs(only: list[str] | None = None) -> list[declared.Run]:
    """Every topic's headline run, as a shard runs it (`SHARD_CONFIG`)."""
    names = only if only is not None else topics()
    return [dataclasses.replace(declared.run(t), **SHARD_CONFIG) for t in names]


def headline_checks(run: declared.Run) -> list:
    """The declared checks of ``run``'s topic that read ``run`` alone (and literals): those a shard,
    which executes only the headline run, can evaluate."""
    from evidence import checks

    return [c for c in checks.declared_checks(run.topic) if c.runs() == {run.name}]


def inputs_digest(version: str, runs: list[declared.Run]) -> str:
    """What a shard's results depend on: the version, the runs, their checks and every file they use."""
    from evidence.running.runner import files_digest, topic_inputs

    h = hashlib.sha256(version.encode())
    h.update(json.dumps([r.spec() for r in runs], sort_keys=True).encode())
    declared_checks = [dataclasses.asdict(c) for r in runs for c in headline_checks(r)]
    if declared_checks:
        h.update(json.dumps(declared_checks, sort_keys=True, default=str).encode())
    h.update(files_digest([f for r in runs for f in topic_inputs(r.topic)]).encode())
    return h.hexdigest()[:16]


def warnings_in(log: str) -> list[str]:
    """The warning lines a program printed (deprecations and others), without paths."""
    found = []
    for line in log.splitlines():
        match = re.search(r"(\w*Warning): (.*)$", line)
        if match and match.group(0) not in found:
            found.append(f"{match.group(1)}: {match.group(2).strip()[:200]}")
    return found


def evaluate_checks(run: declared.Run, report: dict) -> list[dict]:
    """``run``'s `headline_checks` evaluated on its report; a check whose values this version's
    programs did not produce is ``unavailable`` (and not as declared)."""
    from evidence import checks

    found = []
    for check in headline_checks(run):
        try:
            c = checks.evaluate(check, {run.name: report})
        except (KeyError, IndexError, TypeError, ValueError) as error:
            c = {"name": check.name, "say": check.say, "value": None, "expect": check.expect,
                 "verdict": f"unavailable ({type(error).__name__})", "expected": False}
        found.append({k: c[k] for k in ("name", "say", "value", "expect", "verdict", "expected")})
    return found


def summarise(report: dict, declared_checks: list[dict] | None = None) -> dict:
    """One topic's cell of the matrix, from its worker report (and its `evaluate_checks`)."""
    if "error" in report:
        lines = report["error"]["traceback"].strip().splitlines()
        return {"status": "failed", "location": report["error"]["location"], "error": lines[-1][:300] if lines else ""}
    parity = report.get("parity") or {}
    ledger = parity.get("ledger") or {}
    implementations = {}
    for kind, impl in report["implementations"].items():
        implementations[kind] = {"per_step_ms": impl.get("timing", {}).get("per_step_ms"),
                                 "warnings": warnings_in(impl.get("log", ""))}
    return {"status": parity.get("verdict", "ran"), "metric": parity.get("metric"), "value": parity.get("value"),
            "tolerance": parity.get("tolerance"),
            "checks": [{k: c[k] for k in ("metric", "pair", "value", "verdict")} for c in parity.get("checks", [])],
            "ledger_steps": ledger.get("steps"), "first_divergence": ledger.get("first_divergence"),
            "declared": declared_checks or [], "implementations": implementations}


def run_shard(version: str, only: list[str] | None = None, folder: Path | None = None, force: bool = False,
              log=print) -> Path:
    """Run the shard of Lightning ``version`` (every topic, or ``only``) and write its file.

    Returns the file's path; does nothing when a file with the same inputs exists.
    """
    from evidence.running import runner
    from evidence.running.environment import stamp

    runs = shard_runs(only)
    digest = inputs_digest(version, runs)
    path = shard_path(version, folder)
    if path.exists() and not force and json.loads(path.read_text()).get("inputs") == digest:
        log(f"lightning {version}: unchanged inputs, results kept ({path.name})")
        return path
    started = time.monotonic()
    cells: dict[str, dict] = {}
    try:
        python = environment(version, log)
    except ShardError as error:
        cells = {r.topic: {"status": "failed", "location": "install", "error": str(error)} for r in runs}
        python = None
    if python is not None:
        with tempfile.TemporaryDirectory(prefix=f"shard-{version}-") as cache:
            previous = os.environ.get("DOCS_CACHE_DIR")
            os.environ["DOCS_CACHE_DIR"] = cache  # a shard's results never mix with this environment's
            try:
                for run in runs:
                    report = runner.execute(run.topic, [run], python=python, store=False)[run.name]
                    cells[run.topic] = summarise(report, None if "error" in report else evaluate_checks(run, report))
                    log(f"lightning {version}: {run.topic} {cells[run.topic]['status']}")
            finally:
                if previous is None:
                    os.environ.pop("DOCS_CACHE_DIR", None)
                else:
                    os.environ["DOCS_CACHE_DIR"] = previous
    machine = _stamp(python) if python else {**stamp(1), "pytorch_lightning": version, "lightning_fabric": version}
    data = {"kind": KIND, "lightning": version, "environment": machine, "inputs": digest,
            "config": SHARD_CONFIG, "seconds": round(time.monotonic() - started, 1), "topics": cells}
    path.parent.mkdir(parents=True, exist_ok=True)
    # non-finite values (a parity of inf: shapes or keys differ) are written as Python reads them
    path.write_text(json.dumps(data, indent=1, allow_nan=True, default=str))
    return path


def _stamp(python: str) -> dict:
    """The environment stamp as the shard's interpreter sees it (its Lightning and Fabric)."""
    code = "import json; from evidence.running.environment import stamp; print(json.dumps(stamp(1)))"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    return json.loads(subprocess.run([python, "-c", code], capture_output=True, text=True, env=env,
                                     check=True).stdout)


# -- reading ------------------------------------------------------------------------------------

def shards(folder: Path | None = None) -> dict[str, dict]:
    """The shard files present (in ``folder``, default `RESULTS_DIR`), by Lightning
    version, oldest version first."""
    folder = folder or RESULTS_DIR
    found = {}
    for path in folder.glob("lightning-*.json") if folder.is_dir() else []:
        data = json.loads(path.read_text())
        if data.get("kind") == KIND:
            data["file"] = path.name
            found[data["lightning"]] = data
    order = {v: i for i, v in enumerate(VERSIONS)}
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def current(shard: dict) -> bool:
    """Whether a shard's inputs (programs, runs, machinery) are still this checkout's; when not,
    its results are those of the programs as they were, and the page says so."""
    names = [t for t in topics() if t in shard["topics"]]
    return shard.get("inputs") == inputs_digest(shard["lightning"], shard_runs(names))


def missing(folder: Path | None = None) -> list[str]:
    """The versions of `VERSIONS` with no shard file yet."""
    present = shards(folder)
    return [v for v in VERSIONS if v not in present]
