"""Every verdict a topic page shows, declared as data and evaluated by one function.

Two kinds of check, both in a topic's ``runs.toml``:

- within a run, its ``compare`` list: each path is compared between every implementation and
  the reference (plain PyTorch), with the run's ``tolerance`` (the worker evaluates these, since
  it holds the tensors; they need no sentence); a variant that differs on purpose says
  ``expect = "differs"`` in its run table;
- across runs, or against a value, a ``[[checks]]`` entry::

      [[checks]]
      name = "bf16_near_fp32"                 # its id in summary.json
      say = "bf16 stays within 5e-3 of float32 (final validation loss)"   # what the page shows
      a = "bf16/*/history.val_loss.-1"        # run / implementation / result path
      b = "fp32/*/history.val_loss.-1"        # the same form, or a literal value
      tolerance = 5e-3                        # largest difference still called "close"
      expect = "same"                         # identical | close | same | differs | less | greater

  An implementation of ``*`` pairs every implementation present on both sides (the value is
  the largest difference); ``weights`` is each implementation's final network (its
  ``state_dict``, kept in the report for models of up to 200,000 values); ``report`` in its place reads the run's whole report (for example
  ``train/report/parity.ledger.first_divergence.step``). A path follows
  `evidence.running.measure.lookup` (``checkpoints["last.ckpt"].keys.epoch.value``, ``.-1`` for
  a list's last item). ``same`` (the default) accepts identical or close; ``less`` and
  ``greater`` compare numbers (``a < b``, ``a > b``) for every pair.

The build evaluates a topic's checks after its runs and stores them beside the results
(``checks-<key>.json``, the key hashing the declaration and the results' keys, so a changed
check re-evaluates without re-running anything); ``summary.json`` publishes every check and
`evidence.views.checks` renders them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from dataclasses import dataclass

from evidence import declared
from evidence.running import measure

EXPECTATIONS = ("identical", "close", "same", "differs", "less", "greater")
_CHECK_KEYS = {"name", "say", "a", "b", "tolerance", "expect"}


@dataclass(frozen=True)
class Check:
    """One declared check across runs or against a value (see the module)."""

    topic: str
    name: str
    say: str
    a: str
    b: object
    tolerance: float = 0.0
    expect: str = "same"

    def runs(self) -> set[str]:
        """The runs whose results this check reads."""
        return {ref.split("/", 1)[0] for ref in (self.a, self.b) if isinstance(ref, str) and _is_ref(ref)}


def _is_ref(value) -> bool:
    return isinstance(value, str) and value.count("/") >= 2


def _table(topic: str) -> dict:
    path = declared.folder(topic) / declared.RUNS_FILE
    return tomllib.loads(path.read_text())


def declared_checks(topic: str) -> list[Check]:
    """The ``[[checks]]`` of ``topic``'s ``runs.toml``, validated against its runs."""
    path = declared.folder(topic) / declared.RUNS_FILE
    entries = _table(topic).get("checks", [])
    names = {run.name for run in declared.runs(topic)}
    found, seen = [], set()
    for i, entry in enumerate(entries):
        where = f"{path}: checks[{i}]"
        unknown = set(entry) - _CHECK_KEYS
        missing = {"name", "say", "a", "b"} - set(entry)
        if unknown or missing:
            raise declared.DeclarationError(f"{where}: unknown key(s) {sorted(unknown)}, missing {sorted(missing)} "
                                            f"(keys: {', '.join(sorted(_CHECK_KEYS))})")
        if entry["name"] in seen:
            raise declared.DeclarationError(f"{where}: a second check named {entry['name']!r}")
        seen.add(entry["name"])
        expect = entry.get("expect", "same")
        if expect not in EXPECTATIONS:
            raise declared.DeclarationError(f"{where}: expect = {expect!r} (one of {', '.join(EXPECTATIONS)})")
        check = Check(topic, entry["name"], entry["say"], entry["a"], entry["b"],
                      float(entry.get("tolerance", 0.0)), expect)
        if not _is_ref(check.a):
            raise declared.DeclarationError(f"{where}: a = {check.a!r} is not run/implementation/path")
        for run in check.runs():
            if run not in names:
                raise declared.DeclarationError(f"{where}: names run {run!r}, which {path} does not declare")
        found.append(check)
    return found


def trainer_reasons(topic: str) -> dict[str, str]:
    """``[defaults]`` of ``topic``'s ``runs.toml``: why the Lightning program sets each Trainer argument."""
    return dict(_table(topic).get("defaults", {}))


def _values(ref, reports: dict) -> dict:
    """``{implementation: value}`` a reference names (``{None: value}`` for a literal or a report path)."""
    if not _is_ref(ref):
        return {None: ref}
    run, kind, path = ref.split("/", 2)
    report = reports[run]
    if kind == "report":
        return {None: measure.lookup(report, path)}
    impls = report["implementations"]
    kinds = list(impls) if kind == "*" else [kind]
    return {k: measure.lookup(impls[k], path) for k in kinds if k in impls}


def _number(value) -> float:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return float(value)


def compare(pairs: list[tuple], expect: str, tolerance: float = 0.0) -> tuple[float, str, bool]:
    """``(value, verdict, held)`` of comparing every ``(a, b)`` pair as ``expect`` says: the one
    comparison every check uses (a topic's declared checks here, a replay's in `evidence.replays`).

    ``identical``, ``close``, ``same`` and ``differs`` take the largest absolute difference over
    the pairs (`evidence.running.measure.max_abs_difference`; strings and booleans differ
    infinitely unless equal) and call it identical (0), close (within ``tolerance``) or differs;
    ``less`` and ``greater`` need ``a < b`` (``a > b``) for every pair, the value being the
    difference closest to failing.
    """
    if expect in ("less", "greater"):
        differences = [_number(x) - _number(y) for x, y in pairs]
        if expect == "less":
            value, held = max(differences), all(d < 0 for d in differences)
        else:
            value, held = min(differences), all(d > 0 for d in differences)
        return value, expect if held else f"not {expect}", held
    value = max(measure.max_abs_difference(x, y) for x, y in pairs)
    verdict = measure.verdict(value, tolerance)
    return value, verdict, verdict == expect or (expect == "same" and verdict in ("identical", "close"))


def evaluate(check: Check, reports: dict) -> dict:
    """The check's value, verdict and whether it is the one declared, from the runs' reports."""
    a, b = _values(check.a, reports), _values(check.b, reports)
    if None in b:
        pairs = [(k, a[k], b[None]) for k in a]
    elif None in a:
        pairs = [(k, a[None], b[k]) for k in b]
    elif len(a) == len(b) == 1 and "/*/" not in f"{check.a}{check.b}":
        pairs = [(next(iter(a)), next(iter(a.values())), next(iter(b.values())))]  # two named implementations
    else:
        pairs = [(k, a[k], b[k]) for k in a if k in b]
    if not pairs:
        raise declared.DeclarationError(f"check {check.name!r} of {check.topic!r}: no implementation on both sides")
    value, verdict, held = compare([(x, y) for _, x, y in pairs], check.expect, check.tolerance)
    return {"name": check.name, "say": check.say, "a": check.a, "b": check.b, "value": value,
            "tolerance": check.tolerance, "expect": check.expect, "verdict": verdict, "expected": held,
            "implementations": [k for k, _, _ in pairs if k is not None]}


def within_run(report: dict, expect: str = "same") -> list[dict]:
    """The ``compare`` checks a worker evaluated for one run, in the published form; ``expect``
    is the run's declared expectation (``same`` or ``differs``)."""
    parity = report.get("parity") or {}
    out = []
    for c in parity.get("checks", []):
        held = c["verdict"] == "differs" if expect == "differs" else c["verdict"] != "differs"
        reference, other = c["pair"]
        out.append({"name": f"{report['run']}:{c['metric']}:{other}", "run": report["run"], "metric": c["metric"],
                    "pair": c["pair"], "value": c["value"], "tolerance": parity.get("tolerance", 0.0),
                    "expect": expect, "verdict": c["verdict"], "expected": held,
                    "say": f"{other} computes the same {c['metric']} as {reference} ({report['run']})"})
    return out


def _key(topic: str, run_keys: dict) -> str:
    table = _table(topic)
    text = json.dumps({"checks": table.get("checks", []), "runs": run_keys,
                       "expect": {name: run.get("expect") for name, run in table.get("runs", {}).items()}},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def topic_checks(topic: str, reports: dict, run_keys: dict, cache) -> list[dict]:
    """Every check of ``topic`` (within runs, then declared), evaluated once per declaration and results.

    ``reports`` maps run names to their reports (a run that failed has none: its checks are
    left out), ``run_keys`` the same names to their result keys, and ``cache`` is the folder
    the results are kept in; the evaluation is stored there as ``<topic>/checks-<key>.json``.
    """
    path = cache / topic / f"checks-{_key(topic, run_keys)}.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        pass
    expects = {run.name: run.expect for run in declared.runs(topic)}
    found = [c for name, report in reports.items() for c in within_run(report, expects.get(name, "same"))]
    for check in declared_checks(topic):
        if check.runs() <= set(reports):
            found.append(evaluate(check, reports))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(found, allow_nan=True))
    tmp.replace(path)
    for old in path.parent.glob("checks-*.json"):
        if old != path and old.stat().st_mtime < path.stat().st_mtime - 3600:
            old.unlink(missing_ok=True)
    return found


def finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
