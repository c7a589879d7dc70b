"""What the benchmark pages call: run a benchmark in its worker, save its results, render them.

A page does::

    from evidence.benchmarks.views import run_topic

    bench = run_topic("benchmarks", params={"bench": "overhead"}, worker="evidence.benchmarks.worker")

The call's arguments are literals, so the site's build starts it early alongside the topics
(its hooks read ``run_topic(...)`` calls) and knows the page depends on ``evidence/benchmarks/``.
``DOCS_BENCHMARK=full`` selects the full configuration; anything else the quick one.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from evidence.running.environment import describe
from evidence.views.topic import Html, table
from evidence.running.runner import TopicError, make_spec, run_spec

RESULTS_DIR = Path(__file__).resolve().parent / "results"
"""Committed results files (for instance from a GPU machine), shown beside this build's."""

LABELS = {"pytorch": "PyTorch", "lightning": "Lightning", "fabric": "Fabric"}


def configuration() -> str:
    """``full`` when ``DOCS_BENCHMARK=full``, else ``quick``."""
    value = os.environ.get("DOCS_BENCHMARK", "quick").strip().lower() or "quick"
    if value not in ("quick", "full"):
        raise ValueError(f"DOCS_BENCHMARK={value!r}: use quick or full")
    return value


def run_topic(topic: str, params: dict | None = None, repeats: int = 5, threads: int = 1,
              worker: str = "evidence.benchmarks.worker") -> "Bench":
    """Run one benchmark (``params["bench"]``) in a fresh worker, cached like a topic; save its JSON."""
    params = dict(params or {})
    configuration()  # reject a bad DOCS_BENCHMARK before starting a worker
    spec = make_spec(topic, params, repeats=repeats, threads=threads, worker=worker)
    report = run_spec(spec)
    if "error" in report:
        error = report["error"]
        raise TopicError(f"benchmark {params.get('bench')!r} failed at {error['location']}\n{error['traceback']}")
    bench = Bench(report)
    bench.save()
    return bench


def fmt_ms(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g} ms" if abs(value) < 100 else f"{value:.0f} ms"


def fmt_s(value: float) -> str:
    return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.2f} s"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def fmt_params(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.3g} M"
    if n >= 1e3:
        return f"{n / 1e3:.3g} k"
    return f"{n:.0f}"


def spread_text(s: dict, fmt=fmt_ms) -> str:
    """``median`` (IQR ``q1 – q3``)."""
    return f"{fmt(s['median'])} <small>(IQR {fmt(s['q1'])} – {fmt(s['q3'])})</small>"


class Bench:
    """A benchmark's report, with the views its page needs."""

    def __init__(self, report: dict):
        self.data = report
        self.name: str = report["bench"]
        self.environment: dict = report["environment"]

    def __getitem__(self, key):
        return self.data[key]

    @property
    def basis_text(self) -> str:
        if self.data["basis"] == "cpu":
            return "CPU time of the benchmark process"
        return "wall-clock time, waiting for the GPU at each time stamp"

    def save(self, folder: str | os.PathLike | None = None) -> Path | None:
        """Write the report to ``<DOCS_RESULTS_DIR>/benchmarks/<bench>.json`` (nothing without a folder)."""
        folder = folder or os.environ.get("DOCS_RESULTS_DIR")
        if not folder:
            return None
        path = Path(folder) / "benchmarks" / f"{self.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.data, indent=1, allow_nan=True))
        return path

    def stamp(self) -> Html:
        env = self.environment
        config = self.data["config"]
        which = ("the <strong>quick</strong> configuration (the default; <code>DOCS_BENCHMARK=full</code> "
                 "runs the full one)" if config == "quick" else f"the <strong>{config}</strong> configuration")
        return Html(f'<p class="env-stamp"><strong>Environment.</strong> {html.escape(describe(env))}; '
                    f"CPU: {html.escape(env['cpu'])}, {env['cpu_count']} logical cores. "
                    f"Produced by {which}. Times are {self.basis_text}.</p>")

    def checks(self) -> Html:
        """Every weights comparison of the timed runs, grouped; fails the page if one differs."""
        groups: dict[tuple, list[dict]] = {}
        for c in self.data["checks"]:
            where = ", ".join(f"{k} {v}" for k, v in c.items() if k in ("size",))
            groups.setdefault((c["pair"][0], c["pair"][1], where), []).append(c)
        rows = []
        for (ref, other, where), cs in groups.items():
            worst = max(c["max_abs_difference"] for c in cs)
            verdict = "identical" if all(c["identical"] for c in cs) else "differs"
            rows.append([f"{label(ref)} vs {label(other)}", where or "–", str(len(cs)), f"{worst:.3g}" if worst else "0.0",
                         f"<code>{cs[0]['digest'][1]}</code>", f"<strong>{verdict}</strong>"])
        failed = [c for c in self.data["checks"] if not c["identical"]]
        assert self.data["all_identical"] and not failed, f"final weights differ: {failed[:3]}"
        return table(["pair", "where", "runs compared", "largest |difference|", "sha256 of the weights (first run)",
                      "verdict"], rows,
                     caption="Final weights of every timed run, compared element by element with the plain "
                             "PyTorch run of the same round. The page stops the build if one differs.")


def label(kind: str) -> str:
    if kind.startswith("lightning:"):
        return f"Lightning ({kind.split(':', 1)[1]})"
    return LABELS.get(kind, kind)


def committed_results(folder: Path = RESULTS_DIR) -> list[dict]:
    """Results files committed under ``evidence/benchmarks/results/`` (machine and date inside)."""
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = json.loads(path.read_text())
        data["_file"] = path.name
        found.append(data)
    return found


def committed_table(bench: str, folder: Path = RESULTS_DIR) -> Html:
    """The committed results of one benchmark, or a note that none is committed yet."""
    found = [d for d in committed_results(folder) if d.get("bench") == bench]
    if not found:
        return Html('<div class="admonition note"><p class="admonition-title">No committed results yet</p>'
                    "<p>Results from other machines (a CUDA GPU in particular) would be shown here from "
                    "<code>evidence/benchmarks/results/*.json</code>, each with its machine and date. "
                    "None is committed yet: every number on this page comes from this build's machine.</p></div>")
    rows = []
    for d in found:
        env = d["environment"]
        rows.append([html.escape(d["_file"]), html.escape(env.get("device_name", "?")), html.escape(env.get("device", "?")),
                     html.escape(env.get("date", "?")), html.escape(d.get("config", "?")),
                     html.escape(headline(d))])
    return table(["file", "machine", "device", "date", "configuration", "headline"], rows,
                 caption="Committed results from other machines (not produced by this build).")


def headline(d: dict) -> str:
    """One line summarising a report (used for committed results)."""
    if d.get("bench") == "overhead" and d.get("sizes"):
        s = d["sizes"][0]
        o = s["overhead"]["lightning"]
        return (f"Lightning +{o['ms']['median']:.3g} ms/step ({o['pct']['median']:.0f} %) on the "
                f"{fmt_params(s['workload']['parameters'])}-parameter MLP")
    if d.get("bench") == "parity_workload":
        sp = d["speed"]
        return f"{sp['value_s']:+.3f} s/epoch vs threshold {sp['threshold_s']} s"
    return d.get("bench", "?")
