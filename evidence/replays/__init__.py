"""Known issues, replayed: behaviours reported on Lightning's tracker, executed on every release.

A *replay* is a folder ``snippets/replays/<name>/`` holding a small standalone program
``replay.py`` that reproduces one reported behaviour (``run() -> dict`` returns what it
observed), optionally ``workaround.py`` (the same program with the documented or thread-given
workaround), and ``replay.toml``, which says what the thread is and what "reproduces" means as a
check on ``run()``'s values::

    issue = 5539                  # thread number on github.com/Lightning-AI/pytorch-lightning
    also = [2993]                 # other threads reporting the same (optional)
    title = "The logged epoch loss is not the mean of the step losses"
    reported = "What users reported and expected."
    explains = "The mechanism, checked against Lightning's source."
    kind = "bug"                  # bug | documented (Lightning behaves as it documents)
    topic = "logging"             # the topic whose page explains the mechanism
    [upstream]
    state = "closed"              # open | closed
    outcome = "working as intended"
    checked = "2026-12-07"        # when the thread was read
    [reproduces]                  # the check on replay.py's values
    say = "the logged epoch loss differs from the sample-weighted mean by more than 1e-6"
    a = "logged_epoch_loss"       # a key of run()'s dict (a dotted path; .-1 for a list's last)
    b = "weighted_mean"           # another key, or a literal number / bool / string
    tolerance = 1e-6              # optional, 0 by default
    expect = "differs"            # identical | close | same | differs | less | greater
    [workaround]                  # with workaround.py, and only then: the check on its values
    say = "..."
    a = "logged_epoch_loss"
    b = "weighted_mean"
    tolerance = 1e-6
    expect = "same"               # identical or within the tolerance

A check compares as every check of the site does (`evidence.checks.compare`): ``close`` is
within the tolerance but not identical, so "within 1e-6" is ``same``. ``b`` is a key
when ``run()``'s dict has it, else the literal it is.

`evidence.replays.run` runs every replay and workaround in the interpreter of each release of
the version matrix (``tools/version_matrix.py``) and writes one file per release,
``evidence/recorded/replays/lightning-<version>.json``. Each cell gets a verdict: the program
raised → *not applicable* (the error's last line is kept); the check holds → *reproduces*
(*behaves as documented* for ``kind = "documented"``); it does not → *does not reproduce*; a
crash, a timeout or a check that cannot be read → *failed*. A workaround *works*, *does not
work*, or is not applicable. This module discovers the replays and reads the files;
`evidence.views.replays` renders them.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from evidence.programs import PROJECT_DIR, SNIPPETS_DIR

REPLAYS_DIR = SNIPPETS_DIR / "replays"
RESULTS_DIR = PROJECT_DIR / "evidence" / "recorded" / "replays"
KIND = "replays"
"""The ``kind`` of a release's replay file."""
TOML, PROGRAM, WORKAROUND = "replay.toml", "replay.py", "workaround.py"
TIMEOUT_S = 120
"""How long one program may run before it is killed (and recorded as a timeout)."""
THREAD_URL = "https://github.com/Lightning-AI/pytorch-lightning/issues/{}"

REPRODUCES, DOCUMENTED, NOT_REPRODUCED = "reproduces", "behaves as documented", "does not reproduce"
NOT_APPLICABLE, FAILED, WORKS, DOES_NOT_WORK = "not applicable", "failed", "works", "does not work"
NOT_RUN = "not run"

_KEYS = {"issue", "also", "title", "reported", "explains", "kind", "topic", "upstream", "reproduces", "workaround"}
_REQUIRED = _KEYS - {"also", "workaround"}
_UPSTREAM_KEYS = {"state", "outcome", "checked"}
_CHECK_KEYS = {"say", "a", "b", "tolerance", "expect"}
_CHECK_REQUIRED = _CHECK_KEYS - {"tolerance"}
KINDS = ("bug", "documented")
STATES = ("open", "closed")
_NAME = re.compile(r"[a-z][a-z0-9_]*")


class ReplayError(ValueError):
    """A replay folder or its ``replay.toml`` is malformed (the message names the file)."""


@dataclass(frozen=True)
class ReplayCheck:
    """``[reproduces]`` or ``[workaround]``: a comparison of a program's values."""

    say: str
    a: str
    b: object
    tolerance: float
    expect: str


@dataclass(frozen=True)
class Replay:
    """One replay: its folder, its declaration and its programs."""

    name: str
    folder: Path
    issue: int
    also: tuple[int, ...]
    title: str
    reported: str
    explains: str
    kind: str
    topic: str
    upstream: dict
    reproduces: ReplayCheck
    workaround: ReplayCheck | None

    @property
    def programs(self) -> dict[str, Path]:
        """``{"replay": .../replay.py, "workaround": .../workaround.py}`` (the workaround where there is one)."""
        found = {"replay": self.folder / PROGRAM}
        if self.workaround is not None:
            found["workaround"] = self.folder / WORKAROUND
        return found

    @property
    def files(self) -> list[Path]:
        """What its results depend on: its declaration and its programs."""
        return [self.folder / TOML, *self.programs.values()]

    @property
    def threads(self) -> list[tuple[int, str]]:
        """``(number, url)`` of the thread and of every other thread reporting the same."""
        return [(n, THREAD_URL.format(n)) for n in (self.issue, *self.also)]


def _check(table, where: str) -> ReplayCheck:
    if not isinstance(table, dict):
        raise ReplayError(f"{where} must be a table ([...]) with keys {', '.join(sorted(_CHECK_KEYS))}")
    unknown, missing = set(table) - _CHECK_KEYS, _CHECK_REQUIRED - set(table)
    if unknown or missing:
        raise ReplayError(f"{where}: " + "; ".join(
            ([f"unknown key(s) {', '.join(sorted(unknown))}"] if unknown else [])
            + ([f"missing {', '.join(sorted(missing))}"] if missing else []))
            + f" (keys: {', '.join(sorted(_CHECK_KEYS))})")
    from evidence.checks import EXPECTATIONS

    if table["expect"] not in EXPECTATIONS:
        raise ReplayError(f"{where}: expect = {table['expect']!r} (one of {', '.join(EXPECTATIONS)})")
    if not isinstance(table["a"], str) or not table["a"]:
        raise ReplayError(f"{where}: a = {table['a']!r} must name a key of run()'s values")
    tolerance = table.get("tolerance", 0.0)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
        raise ReplayError(f"{where}: tolerance = {tolerance!r} must be a number ≥ 0")
    return ReplayCheck(str(table["say"]), table["a"], table["b"], float(tolerance), table["expect"])


def load_replay(folder: Path) -> Replay:
    """The replay declared in ``folder``, validated; `ReplayError` names the file and what is wrong."""
    path = folder / TOML
    if not _NAME.fullmatch(folder.name):
        raise ReplayError(f"{folder}: a replay's folder name is lowercase letters, digits and underscores")
    if not path.is_file():
        raise ReplayError(f"{folder}: no {TOML}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ReplayError(f"{path}: not valid TOML ({error})") from None
    unknown, missing = set(data) - _KEYS, _REQUIRED - set(data)
    if unknown:
        raise ReplayError(f"{path}: unknown key(s) {', '.join(sorted(unknown))} (keys: {', '.join(sorted(_KEYS))})")
    if missing:
        raise ReplayError(f"{path}: missing {', '.join(sorted(missing))}")
    if not (folder / PROGRAM).is_file():
        raise ReplayError(f"{path}: no {PROGRAM} beside it")
    has_workaround = (folder / WORKAROUND).is_file()
    if "workaround" in data and not has_workaround:
        raise ReplayError(f"{path}: declares [workaround] but there is no {WORKAROUND} beside it")
    if has_workaround and "workaround" not in data:
        raise ReplayError(f"{path}: {WORKAROUND} is there but {TOML} declares no [workaround] check for it")
    issue, also = data["issue"], data.get("also", [])
    if isinstance(issue, bool) or not isinstance(issue, int) or issue <= 0:
        raise ReplayError(f"{path}: issue = {issue!r} must be a thread number")
    if not isinstance(also, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in also):
        raise ReplayError(f"{path}: also = {also!r} must be a list of thread numbers")
    if data["kind"] not in KINDS:
        raise ReplayError(f"{path}: kind = {data['kind']!r} (one of {', '.join(KINDS)})")
    from evidence.programs import topics

    if data["topic"] not in topics():
        raise ReplayError(f"{path}: topic = {data['topic']!r} is not a topic (a folder of snippets/ with programs)")
    upstream = data["upstream"]
    if not isinstance(upstream, dict) or set(upstream) != _UPSTREAM_KEYS:
        raise ReplayError(f"{path}: [upstream] has exactly the keys {', '.join(sorted(_UPSTREAM_KEYS))}")
    if upstream["state"] not in STATES:
        raise ReplayError(f"{path}: upstream.state = {upstream['state']!r} (one of {', '.join(STATES)})")
    checked = upstream["checked"]
    if isinstance(checked, str):
        try:
            checked = _dt.date.fromisoformat(checked)
        except ValueError:
            raise ReplayError(f"{path}: upstream.checked = {checked!r} is not a date (YYYY-MM-DD)") from None
    if not isinstance(checked, _dt.date):
        raise ReplayError(f"{path}: upstream.checked = {checked!r} is not a date (YYYY-MM-DD)")
    for key in ("title", "reported", "explains"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise ReplayError(f"{path}: {key} must be a sentence")
    return Replay(
        name=folder.name, folder=folder, issue=issue, also=tuple(also), title=data["title"].strip(),
        reported=data["reported"].strip(), explains=data["explains"].strip(), kind=data["kind"], topic=data["topic"],
        upstream={"state": upstream["state"], "outcome": str(upstream["outcome"]), "checked": checked.isoformat()},
        reproduces=_check(data["reproduces"], f"{path}: [reproduces]"),
        workaround=_check(data["workaround"], f"{path}: [workaround]") if "workaround" in data else None)


def discover(root: Path | None = None) -> list[Replay]:
    """Every replay under ``root`` (default `REPLAYS_DIR`): each ``<name>/replay.toml``, validated,
    by name; none when the folder is absent. A folder without its ``replay.toml`` yet is not a
    replay (``tests/test_replays`` says so of a committed one)."""
    root = root or REPLAYS_DIR
    return [load_replay(path.parent) for path in sorted(root.glob(f"*/{TOML}"))]


# -- inputs ---------------------------------------------------------------------------------------

def machinery_files() -> list[Path]:
    """The code a replay's programs' records depend on besides their own files: the server that
    runs them (`evidence.replays.server`). The checks and verdicts are evaluated again from the
    stored values whenever a release's replays are run, so they need no re-run."""
    return [Path(__file__).resolve().parent / "server.py"]


def torch_version() -> str:
    """The installed torch's version without its local build tag (``2.9.0``, not ``2.9.0+cpu``):
    the matrix environments share it, and CI installs the same release under another tag."""
    from importlib import metadata

    return metadata.version("torch").split("+")[0]


def replay_digest(replay: Replay, version: str) -> str:
    """What one replay's cell on Lightning ``version`` depends on: the version, torch, the
    replay's files and the machinery. A changed replay re-runs alone."""
    from evidence.running.runner import files_digest

    h = hashlib.sha256(f"{version} torch {torch_version()}".encode())
    h.update(files_digest(replay.files).encode())
    h.update(files_digest(machinery_files()).encode())
    return h.hexdigest()[:16]


# -- checks and verdicts --------------------------------------------------------------------------

def evaluate(check: ReplayCheck, values: dict) -> dict:
    """A check on a program's values, compared by `evidence.checks.compare`: its operands, value,
    verdict and whether it held (``error`` instead when ``a`` is not among the values)."""
    from evidence.checks import compare
    from evidence.running.measure import lookup

    out = {"say": check.say, "a": check.a, "b": check.b, "tolerance": check.tolerance, "expect": check.expect}
    try:
        a = lookup(values, check.a)
    except KeyError as error:
        return {**out, "error": str(error.args[0])}
    b, b_is_key = check.b, False
    if isinstance(check.b, str):
        try:
            b, b_is_key = lookup(values, check.b), True
        except KeyError:
            pass
    try:
        value, verdict, held = compare([(a, b)], check.expect, check.tolerance)
    except (TypeError, ValueError) as error:
        return {**out, "a_value": a, "b_value": b, "error": f"cannot compare: {error}"}
    return {**out, "a_value": a, "b_value": b, "b_is_key": b_is_key, "value": value, "verdict": verdict, "held": held}


def verdict(replay: Replay, program: dict, check: dict | None, workaround: bool = False) -> str:
    """A cell's verdict from its program's record and its check's result (see the module)."""
    if program["status"] == "raised":
        return NOT_APPLICABLE
    if program["status"] != "ran" or check is None or "error" in check:
        return FAILED
    if workaround:
        return WORKS if check["held"] else DOES_NOT_WORK
    if check["held"]:
        return DOCUMENTED if replay.kind == "documented" else REPRODUCES
    return NOT_REPRODUCED


# -- the files --------------------------------------------------------------------------------------

def release_path(version: str, folder: Path | None = None) -> Path:
    return (folder or RESULTS_DIR) / f"lightning-{version}.json"


def releases(folder: Path | None = None) -> dict[str, dict]:
    """The replay files present (in ``folder``, default `RESULTS_DIR`), by Lightning version,
    oldest first (the order of `evidence.matrix.VERSIONS`)."""
    from evidence.matrix import VERSIONS

    folder = folder or RESULTS_DIR
    found = {}
    for path in folder.glob("lightning-*.json") if folder.is_dir() else []:
        data = json.loads(path.read_text())
        if data.get("kind") == KIND:
            data["file"] = path.name
            found[data["lightning"]] = data
    order = {v: i for i, v in enumerate(VERSIONS)}
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def cell(replay: Replay, release: dict) -> dict:
    """One replay's entry in one release's file, with ``current`` (its inputs are this checkout's);
    ``{"verdict": "not run"}`` when the file has none."""
    entry = release.get("replays", {}).get(replay.name)
    if entry is None:
        return {"verdict": NOT_RUN, "current": False}
    return {**entry, "current": entry.get("inputs") == replay_digest(replay, release["lightning"])}


def stale(release: dict, replays: list[Replay]) -> list[str]:
    """The replays whose entry in ``release`` is missing or was recorded from other inputs."""
    return [r.name for r in replays if not cell(r, release)["current"]]


def to_run(release: dict, replays: list[Replay]) -> list[str]:
    """The replays a run of ``release`` runs again: the stale ones, and those with a program that
    timed out or crashed (a loaded machine, a stopped run: worth another try)."""
    entries = release.get("replays", {})
    return [r.name for r in replays if not cell(r, release)["current"]
            or any(entries[r.name].get(k, {}).get("status") in ("timeout", "crashed") for k in r.programs)]


RECORDED = (REPRODUCES, DOCUMENTED, NOT_REPRODUCED, NOT_APPLICABLE, FAILED)


def changes(verdicts: dict[str, str]) -> list[dict]:
    """Every change of verdict between neighbouring releases with a verdict (``not run`` skipped),
    oldest first: ``{"since", "before", "after", "text"}``, the text as a row says it
    ("no longer reproduces since 2.5.0")."""
    seen = [(v, s) for v, s in verdicts.items() if s in RECORDED]
    out = []
    for (_, before), (since, after) in zip(seen, seen[1:]):
        if before == after:
            continue
        if after == NOT_REPRODUCED:
            text = ("no longer reproduces" if before in (REPRODUCES, DOCUMENTED) else "does not reproduce") + f" since {since}"
        else:
            text = f"{after} since {since}"
        out.append({"since": since, "before": before, "after": after, "text": text})
    return out


def rows(folder: Path | None = None, root: Path | None = None) -> list[dict]:
    """Per replay: the replay, its cell on every release with a file, and its changes."""
    present = releases(folder)
    out = []
    for replay in discover(root):
        cells = {v: cell(replay, data) for v, data in present.items()}
        out.append({"replay": replay, "cells": cells,
                    "changes": changes({v: c["verdict"] for v, c in cells.items()})})
    return out


def summary(folder: Path | None = None, root: Path | None = None) -> dict:
    """The replays' part of ``summary.json``: per release its versions, date and whether its inputs
    are current; per replay its thread, upstream state and verdict (and workaround's) per release."""
    present = releases(folder)
    replays = discover(root)
    per_release = {v: {"torch": d["environment"].get("torch"), "lightning_fabric": d["environment"].get("lightning_fabric"),
                       "date": d["environment"].get("date"), "file": f"evidence/recorded/replays/{d['file']}",
                       "stale": stale(d, replays)} for v, d in present.items()}
    entries = []
    for row in rows(folder, root):
        r = row["replay"]
        entries.append({
            "name": r.name, "title": r.title, "issue": r.issue, "also": list(r.also), "kind": r.kind, "topic": r.topic,
            "upstream": r.upstream,
            "verdicts": {v: c["verdict"] for v, c in row["cells"].items()},
            "workaround": ({v: c.get("workaround_verdict", NOT_RUN) for v, c in row["cells"].items()}
                           if r.workaround else None),
            "changes": [c["text"] for c in row["changes"]]})
    return {"releases": per_release, "replays": entries}
