"""What a topic page shows: logs, overlaid curves, timing and memory tables, parity, lines of code.

:class:`TopicResult` wraps a worker's report. Its table and verdict methods return
:class:`Html` objects, which mkdocs-gallery renders as HTML when they end a cell; ``logs``
prints, and ``plot`` draws a matplotlib figure that the gallery saves as an image.
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path

from snippets.harness import measure
from snippets.harness.environment import describe
from snippets.harness.programs import LABELS

_STYLES = {"pytorch": dict(linestyle="-", marker="o", linewidth=3.0, alpha=0.6),
           "lightning": dict(linestyle="--", marker="s", linewidth=2.0, markersize=5),
           "fabric": dict(linestyle=":", marker="^", linewidth=2.0, markersize=4)}


class Html(str):
    """A fragment of HTML that mkdocs-gallery embeds in the page as it is."""

    def _repr_html_(self) -> str:
        return str(self)


def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "–"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def format_difference(value: float) -> str:
    """``0.0`` stays ``0.0``; small numbers in scientific notation."""
    if value == 0:
        return "0.0"
    if math.isinf(value):
        return "not comparable (shapes or keys differ)"
    return f"{value:.3g}"


def table(headers: list[str], rows: list[list[str]], caption: str | None = None) -> Html:
    """A plain HTML table (Material styles it like a Markdown table)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return Html(f'<div class="md-typeset__scrollwrap"><div class="md-typeset__table"><table>{cap}'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></div>")


class TopicResult:
    """A topic's executed results, with the views a topic page needs."""

    def __init__(self, report: dict):
        self.data = report
        self.topic: str = report["topic"]
        self.environment: dict = report["environment"]
        self.implementations: dict = report["implementations"]
        self.parity_data: dict | None = report.get("parity")

    # -- raw access -------------------------------------------------------------------------
    def kinds(self) -> list[str]:
        """Implementation kinds present, in page order."""
        return list(self.implementations)

    def value(self, kind: str, path: str):
        """A value from one implementation's result, e.g. ``value("lightning", "history.val_loss")``."""
        return measure.lookup(self.implementations[kind], path)

    # -- views ------------------------------------------------------------------------------
    def stamp(self) -> Html:
        """The environment stamp as one line."""
        return Html(f'<p class="env-stamp"><strong>Environment.</strong> {html.escape(describe(self.environment))}. '
                    f"Timed phase run alone (serialised), {self.data['spec'].get('repeats', 0)} "
                    f"alternating rounds after one untimed run of each program.</p>")

    def logs(self) -> None:
        """Print each implementation's log from its first (untimed) run."""
        for kind, impl in self.implementations.items():
            print(f"──── {LABELS[kind]}: python {impl['file']} " + "─" * 20)
            print(impl["log"].rstrip() or "(printed nothing)")
            print()

    def plot(self, *paths: str, title: str | None = None, ylabel: str = "loss", logy: bool = False):
        """Overlay a per-epoch series (default ``history.train_loss`` and ``history.val_loss``)."""
        import matplotlib.pyplot as plt

        paths = paths or tuple(f"history.{k}" for k in self.implementations[self.kinds()[0]].get("history", {}))
        fig, axes = plt.subplots(1, len(paths), figsize=(5.2 * len(paths), 3.6), squeeze=False)
        for ax, path in zip(axes[0], paths):
            for kind in self.kinds():
                series = self.value(kind, path)
                ax.plot(range(1, len(series) + 1), series, label=LABELS[kind], **_STYLES[kind])
            ax.set_title(path.split(".")[-1].replace("_", " "))
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel)
            if logy:
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(title or f"{self.topic.replace('_', ' ')}: curves of every implementation, overlaid")
        fig.tight_layout()

    def timings(self) -> Html:
        """Median and spread of the timed runs, per step, first run, and peak memory."""
        ref = self.kinds()[0]
        ref_median = self.implementations[ref].get("timing", {}).get("median_s")
        rows = []
        for kind, impl in self.implementations.items():
            t = impl.get("timing")
            if not t:
                rows.append([LABELS[kind], "0", "–", "–", "–", "–", _fmt_seconds(impl["first_run_s"]),
                             _fmt_bytes(impl.get("memory", {}).get("bytes"))])
                continue
            overhead = "reference" if kind == ref else f"{100 * (t['median_s'] / ref_median - 1):+.1f} %"
            per_step = f"{t['per_step_ms']:.3f} ms" if "per_step_ms" in t else "–"
            rows.append([LABELS[kind], str(t["runs"]), _fmt_seconds(t["median_s"]),
                         f"{_fmt_seconds(t['q1_s'])} – {_fmt_seconds(t['q3_s'])}",
                         f"{_fmt_seconds(t['min_s'])} – {_fmt_seconds(t['max_s'])}",
                         per_step, _fmt_seconds(impl["first_run_s"]),
                         _fmt_bytes(impl.get("memory", {}).get("bytes"))]
                        + [overhead])
        headers = ["implementation", "timed runs", "median run", "IQR", "min – max", "per step",
                   "first run (start-up incl.)", "peak memory", "vs " + LABELS[ref]]
        rows = [r + ([""] if len(r) < len(headers) else []) for r in rows]
        memory_kind = next(iter(self.implementations.values())).get("memory", {}).get("kind", "")
        return table(headers, rows, caption=f"Wall-clock time of one complete run() call; memory: {memory_kind}.")

    def loc(self) -> Html:
        """Lines of code of each implementation, counted by code."""
        ref = self.kinds()[0]
        ref_loc = self.implementations[ref]["loc"]
        rows = [[LABELS[k], f"<code>{html.escape(i['file'])}</code>", str(i["loc"]),
                 "reference" if k == ref else f"{i['loc'] - ref_loc:+d}"]
                for k, i in self.implementations.items()]
        return table(["implementation", "file", "lines of code", "vs " + LABELS[ref]], rows,
                     caption="Lines holding code: blank lines, comments and docstrings are not counted.")

    def parity(self) -> Html:
        """The parity verdict with the number behind it, and every check made."""
        p = self.parity_data
        if not p:
            return Html('<div class="admonition note"><p class="admonition-title">Parity</p>'
                        "<p>Only one implementation: nothing to compare.</p></div>")
        kind = {"identical": "success", "close": "info", "differs": "failure"}[p["verdict"]]
        headline = (f"{p['verdict']}: max |difference| of <code>{html.escape(p['metric'])}</code> = "
                    f"{format_difference(p['value'])}")
        if p["verdict"] == "close":
            headline += f" &le; tolerance {p['tolerance']:g}"
        elif p["verdict"] == "differs":
            headline += f" &gt; tolerance {p['tolerance']:g}"
        rows = [[f"<code>{html.escape(c['metric'])}</code>",
                 f"{LABELS[c['pair'][1]]} vs {LABELS[c['pair'][0]]}", format_difference(c["value"]), c["verdict"]]
                for c in p["checks"]]
        return Html(f'<div class="admonition {kind}"><p class="admonition-title">Parity: {headline}</p>'
                    f"<p>Same seed, same data, same device; every check against "
                    f"{LABELS[p['reference']]}:</p></div>" + table(["compared", "pair", "max |difference|", "verdict"], rows))

    # -- results data -----------------------------------------------------------------------
    def summary(self) -> dict:
        """The entry this topic contributes to ``results/summary.json`` (page fields added by the site)."""
        impls = {}
        for kind, impl in self.implementations.items():
            t = impl.get("timing", {})
            impls[kind] = {"file": impl["file"], "loc": impl["loc"], "median_s": t.get("median_s"),
                           "q1_s": t.get("q1_s"), "q3_s": t.get("q3_s"), "runs": t.get("runs", 0),
                           "per_step_ms": t.get("per_step_ms"), "first_run_s": impl["first_run_s"],
                           "steps": impl["steps"], "device": impl["device"],
                           "peak_memory_bytes": impl.get("memory", {}).get("bytes"),
                           "memory_kind": impl.get("memory", {}).get("kind")}
        parity = None
        if self.parity_data:
            parity = {k: self.parity_data[k] for k in ("verdict", "metric", "value", "tolerance", "reference")}
            parity["checks"] = self.parity_data["checks"]
        return {"slug": self.topic, "implementations": impls, "parity": parity,
                "environment": self.environment, "spec": self.data["spec"]}

    def save(self, folder: str | os.PathLike | None = None) -> Path | None:
        """Write :meth:`summary` to ``<folder>/<topic>.json`` (``DOCS_RESULTS_DIR`` by default)."""
        folder = folder or os.environ.get("DOCS_RESULTS_DIR")
        if not folder:
            return None
        path = Path(folder) / f"{self.topic}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.summary(), indent=1, allow_nan=False, default=str))
        return path
