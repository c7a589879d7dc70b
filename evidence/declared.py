"""Runs declared as data: each topic's ``runs.toml``.

Every topic folder (``snippets/<topic>/``) declares the runs its page shows in a
``runs.toml`` beside its programs; the benchmarks (``evidence/benchmarks/``) and the API-changes
page (``evidence/api_changes/``) declare theirs the same way. The build executes every declared
run whose inputs changed before any page runs; a page only loads results by run name.

The file::

    headline = "train"                 # the run summary.json publishes (default: the first)
    worker = "evidence.benchmarks.worker"   # optional: another worker module
    inputs = ["snippets/minimal_loop"] # optional: more files or folders its results depend on
                                       # (a machinery page that runs the site's programs)

    [runs.train]
    about = "20 epochs, held-out validation"   # one line, shown while building
    params = { epochs = 20, seed = 0 }         # run() keyword arguments, for every program
    compare = ["state_dict", "history.val_loss"]   # result paths checked, headline first
    tolerance = 1e-6                           # largest difference still called "close"
    repeats = 5                                # timed rounds after the logged run
    threads = 1                                # torch threads in the worker
    overrides = { lightning = { profiler = "simple" } }   # extra run() arguments per kind
    needs = ["cuda"]                           # run only where a CUDA GPU is present
    in_process = false                         # the programs train in processes of their own
                                               # (ranks): no memory probe; the headline's calls
                                               # are recorded in rank 0 (evidence.running.rank_trace)
    gather = { checkpoints = { reader = "checkpoint_files", path = "{ckpt_dir}" } }
                                               # values read from what each program wrote
                                               # (evidence.running.gather.READERS)
    expect = "differs"                         # this run's compare checks should differ
                                               # (default "same": identical or close)

    [runs.fp32]                                # a variant: starts from the headline's settings;
    params = { precision = "32-true" }         # params and overrides are merged into the
    repeats = 0                                # headline's, every other key replaces its value

Every key but ``params`` is optional. ``compare`` defaults to ``["state_dict"]``, ``tolerance``
to ``0.0`` (bitwise), ``repeats`` to 5 and ``threads`` to 1.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from evidence.programs import PROJECT_DIR, SNIPPETS_DIR

RUNS_FILE = "runs.toml"
DEFAULT_WORKER = "evidence.running.worker"
MACHINERY_TOPICS = tuple(PROJECT_DIR / "evidence" / name for name in ("benchmarks", "api_changes", "loopdiff"))
"""Folders outside ``snippets/`` that declare runs: the benchmarks, the API-changes page and the
"Diff your own loops" page."""

_KEYS = {"about", "params", "compare", "tolerance", "repeats", "threads", "overrides", "needs", "in_process", "gather",
         "expect"}


class DeclarationError(ValueError):
    """A ``runs.toml`` is missing, malformed, or names a run that does not exist."""


@dataclass(frozen=True)
class Run:
    """One declared run of a topic: the arguments every program gets and what to compare."""

    topic: str
    name: str
    params: dict = field(default_factory=dict)
    compare: tuple = ("state_dict",)
    tolerance: float = 0.0
    repeats: int = 5
    threads: int = 1
    overrides: dict = field(default_factory=dict)
    about: str = ""
    worker: str = DEFAULT_WORKER
    headline: bool = False
    needs: tuple = ()
    in_process: bool = True
    gather: dict = field(default_factory=dict)
    expect: str = "same"
    """What the run's ``compare`` checks should find: ``same`` (identical or close, the default) or
    ``differs`` (a variant that shows a difference on purpose). Not part of the run's key."""

    def runs_here(self) -> bool:
        """Whether this machine has what the run needs (``needs = ["cuda"]``: a CUDA GPU)."""
        if "cuda" in self.needs:
            from evidence.running.environment import device_kind

            return device_kind() == "cuda"
        return True

    def spec(self) -> dict:
        """What the worker is asked to do; its hash is half of the result's cache key."""
        spec = {"topic": self.topic, "run": self.name, "params": self.params, "compare": list(self.compare),
                "tolerance": self.tolerance, "repeats": self.repeats, "threads": self.threads,
                "overrides": self.overrides, "trace": self.headline and self.in_process,
                "memory": self.in_process}
        if self.headline and not self.in_process:
            spec["trace_rank"] = 0  # its ranks are processes of their own: rank 0 is recorded there
        if self.gather:
            spec["gather"] = self.gather
        if self.worker != DEFAULT_WORKER:
            spec["worker"] = self.worker
        return spec


def folders() -> dict[str, Path]:
    """Every folder with a ``runs.toml``, by topic name: the reader topics, then the machinery's."""
    found = {d.name: d for d in sorted(SNIPPETS_DIR.iterdir()) if (d / RUNS_FILE).is_file()}
    found.update({d.name: d for d in MACHINERY_TOPICS if (d / RUNS_FILE).is_file()})
    return found


def folder(topic: str) -> Path:
    """The folder that declares ``topic``'s runs."""
    try:
        return folders()[topic]
    except KeyError:
        raise DeclarationError(f"no {RUNS_FILE} declares the runs of {topic!r}: expected "
                               f"{SNIPPETS_DIR / topic / RUNS_FILE}") from None


def _merge(base: dict, extra: dict) -> dict:
    """``extra`` over ``base``; tables (dicts) are merged key by key, at every depth."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def runs(topic: str) -> list[Run]:
    """The runs ``topic`` declares, headline first, then the variants in file order."""
    path = folder(topic) / RUNS_FILE
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise DeclarationError(f"{path}: {error}") from None
    table = data.get("runs")
    if not isinstance(table, dict) or not table:
        raise DeclarationError(f"{path}: declares no [runs.<name>] table")
    unknown_top = set(data) - {"runs", "headline", "worker", "checks", "defaults", "inputs"}
    if unknown_top:
        raise DeclarationError(f"{path}: unknown key(s) {sorted(unknown_top)} "
                               "(expected headline, worker, inputs, runs, checks, defaults)")
    headline = data.get("headline", next(iter(table)))
    if headline not in table:
        raise DeclarationError(f"{path}: headline = {headline!r} names no run (runs: {', '.join(table)})")
    for name, settings in table.items():
        for key, entry in settings.get("gather", {}).items():
            if key in ("trace", "timing", "memory", "log", "weights", "steps", "device", "state_dict"):
                raise DeclarationError(f"{path}: run {name!r}: gather.{key} would overwrite what the harness "
                                       "reports under that name; choose another key")
            if not isinstance(entry, dict) or set(entry) != {"reader", "path"}:
                raise DeclarationError(f"{path}: run {name!r}: gather.{key} must be {{ reader = ..., path = ... }}")
            from evidence.running.gather import READERS

            if entry["reader"] not in READERS:
                raise DeclarationError(f"{path}: run {name!r}: gather.{key} names no reader "
                                       f"{entry['reader']!r} (readers: {', '.join(READERS)})")
        unknown = set(settings) - _KEYS
        if unknown:
            raise DeclarationError(f"{path}: run {name!r} has unknown key(s) {sorted(unknown)} "
                                   f"(allowed: {', '.join(sorted(_KEYS))})")
    worker = data.get("worker", DEFAULT_WORKER)
    base = table[headline]
    declared = [Run(topic, headline, worker=worker, headline=True, **_normalise(base))]
    for name, settings in table.items():
        if name != headline:
            inherited = {k: v for k, v in base.items() if k not in ("about", "needs", "expect")}
            declared.append(Run(topic, name, worker=worker, **_normalise(_merge(inherited, settings))))
    return declared


def _normalise(settings: dict) -> dict:
    out = dict(settings)
    if "compare" in out:
        out["compare"] = tuple(out["compare"])
    if "tolerance" in out:
        out["tolerance"] = float(out["tolerance"])
    if "needs" in out:
        needs = [out["needs"]] if isinstance(out["needs"], str) else list(out["needs"])
        unknown = set(needs) - {"cuda"}
        if unknown:
            raise DeclarationError(f"needs = {sorted(unknown)}: only \"cuda\" is known")
        out["needs"] = tuple(needs)
    return out


def run(topic: str, name: str | None = None) -> Run:
    """One declared run (the headline when ``name`` is None)."""
    declared = runs(topic)
    if name is None:
        return declared[0]
    for candidate in declared:
        if candidate.name == name:
            return candidate
    raise DeclarationError(f"{topic!r} declares no run {name!r} (runs: {', '.join(r.name for r in declared)})")


def extra_inputs(topic: str) -> list[Path]:
    """The files a topic's ``inputs`` names (folders: every file in them), relative to the project."""
    data = tomllib.loads((folder(topic) / RUNS_FILE).read_text())
    found = []
    for name in data.get("inputs", []):
        path = PROJECT_DIR / name
        if not path.exists():
            raise DeclarationError(f"{folder(topic) / RUNS_FILE}: inputs names {name!r}, which does not exist")
        found += [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()
                                                       and "__pycache__" not in p.parts and p.suffix != ".pyc")
    return found
