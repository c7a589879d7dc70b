"""The views every topic page shows: stamp, logs, curves, parity, timings, lines of code.

They are methods of `ShownResult` (a `evidence.results.RunResult` with `RunViews`), which
`load` gives a page, so a page reads ``result.executed()``; each returns an `evidence.views.Html` fragment, prints, or
draws a figure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence import results
from evidence.programs import LABELS, programs
from evidence.results import RunResult, TopicRuns
from evidence.source import LOC_RULE
from evidence.running import timing
from evidence.running.environment import describe
from evidence.views import Code, Html, Strong, admonition, difference, inline, nbytes, seconds, table
from evidence.views import figures, trace
from evidence.views import matrix as versions
from evidence.views import replays
from evidence.recorded import gpu_run

if TYPE_CHECKING:
    from matplotlib.figure import Figure


TRAINER_REASONS = {
    "max_epochs": "the task's length, the same in every implementation",
    "max_steps": "the task's length, the same in every implementation",
    "accelerator": "the program's --device (auto, cpu or cuda), as the others take it",
    "devices": "one device, as the plain program uses",
    "logger": "the default logger would write a lightning_logs/ folder the reader did not ask for",
    "enable_checkpointing": "the default callback would write a checkpoint the reader did not ask for "
                            "(checkpointing has its own page)",
    "enable_progress_bar": "on from the command line (verbose), off in the quiet runs the harness times, "
                           "where no implementation prints",
    "enable_model_summary": "on from the command line (verbose), off in the quiet runs the harness times",
    "callbacks": "the callbacks the topic is about",
    "deterministic": "the topic compares seeded results bit for bit",
}
"""Why a Lightning program sets a Trainer argument, for those most programs set; a topic's
``[defaults]`` table in its ``runs.toml`` adds its own and may override these."""

TRAINER_CAPTION = ("Recorded from the Trainer the program built in its logged run (from the command line, so "
                   "verbose); every other argument keeps Lightning's default.")


TRACE_NOTE = (
    "<p>The headline run once more, untimed, with every training call recorded through PyTorch's own hooks "
    "(the programs are unchanged, and the recorded pass must end with the same weights): forward passes with "
    "the model's mode and grad mode, <code>zero_grad</code>, <code>backward</code>, optimizer and scheduler "
    "steps, clipping, checkpoint saves, and who made each call. Rows where the programs differ are marked; "
    "the page <em>What the Trainer does for you</em> reads the minimal loop's recording line by line.</p>")


TIMING_CAPTION = (
    "Every implementation measured the same way, in timed rounds that alternate their order: each optimizer "
    "step stamped by PyTorch's global step hook (CUDA events on a GPU). Per step: the median interval between "
    f"steps after the first {timing.WARMUP_STEPS} of each run, over the rounds (IQR of all intervals); a run of "
    f"few steps is timed in more rounds than it declares, until each implementation has {timing.MIN_STEPS} such "
    f"intervals (at most {timing.MAX_ROUNDS} rounds). The ratio's 95 % interval "
    f"comes from a bootstrap over the rounds and their steps; where it holds 1 (or stays within "
    f"±{100 * timing.NOISE_BAND:.0f} %), the "
    "difference is noise: no measurable difference. Start-up: from the call to the first step's end (imports "
    "excluded; Trainer or Fabric set-up, the sanity check and the first batch included). Whole run: one "
    "complete run() call.")


def ratio_text(timing: dict) -> str | None:
    """``1.52× (1.48–1.57)`` or ``no measurable difference (0.99–1.03×)``, from a timing's comparison."""
    vs = timing.get("vs_reference")
    if not vs:
        return None
    if vs["verdict"] == "no measurable difference":
        return f"no measurable difference ({vs['low']:.2f}–{vs['high']:.2f}×)"
    return f"{vs['ratio']:.2f}× ({vs['low']:.2f}–{vs['high']:.2f})"


def _log_html(text: str) -> str:
    """A program's log for a ``<pre>``, on one source line (newlines as character references), so
    that nothing the page's Markdown does to the lines around it can indent the log's lines."""
    return _escape(text.rstrip() or "(printed nothing)").replace("\n", "&#10;")


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def _literal(value) -> str:
    return repr(value) if isinstance(value, str) else str(value)


class RunViews:
    """View methods of a run's result (mixed into `ShownResult`)."""

    # -- what ran ---------------------------------------------------------------------------
    def stamp(self) -> Html:
        """The environment stamp as one line: device, threads, versions, date and the method."""
        repeats = self.data["spec"].get("repeats", 0)
        rounds = max((impl.get("timing", {}).get("runs", 0) for impl in self.implementations.values()), default=0)
        method = ""
        if self.implementations:
            method = (f" Timed phase run alone (serialised), {rounds or repeats} alternating rounds after one untimed "
                      f"run of each program" + (f" ({repeats} declared, more for a run of few steps)"
                                                 if rounds > repeats else "") + "."
                      if repeats else " One logged run of each program, untimed.")
        return Html(f'<p class="env-stamp">{inline([Strong("Environment."), " ", describe(self.environment), ".", method])}</p>'
                    + (self.gpu_evidence() + versions.topic_row(self.topic) + replays.topic_line(self.topic)
                       if self.implementations else ""))

    def gpu_evidence(self) -> Html:
        """This run as recorded on a CUDA GPU (``evidence/recorded/gpu/``), or a plain note that
        no GPU run is recorded yet."""
        found = gpu_run(self.topic, self.run.name)
        if found is None:
            here = (" This build ran on a CUDA GPU: the figures on this page are GPU figures."
                    if self.environment.get("device") == "cuda" else "")
            return Html('<p class="env-stamp">' + inline([Strong("On a GPU."), " No GPU run recorded yet: no "
                        "results file from a CUDA machine is committed (tools/gpu_evidence.py writes one)." + here])
                        + "</p>")
        machine, result = found
        where = (f"Recorded on {machine['device_name']} (CUDA {machine.get('cuda', '?')}, driver "
                 f"{machine.get('driver', '?')}), torch {machine['torch']}, pytorch_lightning "
                 f"{machine['pytorch_lightning']}, {machine['date']}")
        if "error" in result or "skipped" in result:
            what = f"the run {'failed: ' + result.get('error_line', '') if 'error' in result else result['skipped']}."
            return Html('<p class="env-stamp">' + inline([Strong("On a GPU."), f" {where}: {what}"]) + "</p>")
        parity = result.get("parity") or {}
        steps = " · ".join(f"{LABELS[k]} {i['per_step_ms']:.3g} ms" for k, i in result["implementations"].items()
                           if i.get("per_step_ms"))
        memory = " · ".join(f"{LABELS[k]} {nbytes(i.get('peak_memory_bytes'))}"
                            for k, i in result["implementations"].items())
        verdict = f"{parity['verdict']} ({difference(parity['value'])})" if parity else "one implementation"
        return Html('<p class="env-stamp">' + inline([
            Strong("On a GPU."), f" {where}: parity {verdict}; per step {steps or '–'}; peak CUDA memory {memory}. ",
            "From ", Code(machine["file"] if "file" in machine else "the recorded file"), "."]) + "</p>")

    def executed(self) -> Html:
        """The standard head of a topic's evidence: the stamp, every log, the run's checks and
        the Trainer arguments, each under its heading (the explanations are written once, here)."""
        from evidence.views.checks import checks_table

        logs = "".join(f'<p class="log-title"><strong>{LABELS[kind]}</strong>: <code>python {impl["file"]}</code></p>'
                       f'<pre class="program-log"><code>{_log_html(impl["log"])}</code></pre>'
                       for kind, impl in self.implementations.items())
        from evidence.checks import within_run

        return Html(self.stamp() + "<h3>What each program printed</h3>"
                    "<p>The logged run, as a reader sees it from the command line (<code>verbose=True</code>).</p>"
                    + logs + "<h3>Did they compute the same thing?</h3>"
                    + (checks_table(within_run(self.data, self.run.expect)) if self.parity_data else
                       admonition("note", "Parity", "Only one implementation: nothing to compare."))
                    + trace.ledger_line(self) + self.trainer_arguments())

    def costs(self) -> Html:
        """The standard tail of a topic's evidence: the call trace, the timings and the line counts."""
        return Html("<h3>What each program did, call by call</h3>" + TRACE_NOTE + self.trace()
                    + "<h3>Time and memory</h3>" + self.timings() + "<h3>Lines of code</h3>" + self.loc())

    def logs(self) -> None:
        """Print each implementation's log from its first (untimed) run."""
        for kind, impl in self.implementations.items():
            print(f"──── {LABELS[kind]}: python {impl['file']} " + "─" * 20)
            print(impl["log"].rstrip() or "(printed nothing)")
            print()

    # -- what it computed -------------------------------------------------------------------
    def plot(self, *paths: str, title: str | None = None, ylabel: str = "loss", xlabel: str = "epoch",
             logy: bool = False) -> Figure:
        """Overlay per-epoch series of every implementation (default: every ``history`` series)."""
        paths = paths or tuple(f"history.{k}" for k in self.implementations[self.kinds()[0]].get("history", {}))
        fig, axes = figures.panels(len(paths))
        for ax, path in zip(axes, paths):
            for kind in self.kinds():
                series = self.value(kind, path)
                figures.overlay(ax, kind, range(1, len(series) + 1), series)
            figures.finish(ax, title=path.split(".")[-1].replace("_", " "), xlabel=xlabel, ylabel=ylabel, logy=logy)
        fig.suptitle(title or f"{self.topic.replace('_', ' ')}: curves of every implementation, overlaid")
        fig.tight_layout()
        return fig

    def parity(self) -> Html:
        """The parity verdict with the number behind it, and every check made."""
        p = self.parity_data
        if not p:
            return admonition("note", "Parity", "Only one implementation: nothing to compare.")
        kind = {"identical": "success", "close": "info", "differs": "failure"}[p["verdict"]]
        headline = [f"Parity: {p['verdict']}: max |difference| of ", Code(p["metric"]),
                    f" = {difference(p['value'])}"]
        if p["verdict"] == "close":
            headline.append(f" ≤ tolerance {p['tolerance']:g}")
        elif p["verdict"] == "differs":
            headline.append(f" > tolerance {p['tolerance']:g}")
        rows = [[Code(c["metric"]), f"{LABELS[c['pair'][1]]} vs {LABELS[c['pair'][0]]}", difference(c["value"]),
                 c["verdict"]] for c in p["checks"]]
        return Html(admonition(kind, headline, f"Same seed, same data, same device; every check against "
                                               f"{LABELS[p['reference']]}:")
                    + table(["compared", "pair", "max |difference|", "verdict"], rows) + trace.ledger_line(self))

    def trainer_arguments(self) -> Html:
        """The ``Trainer`` arguments the Lightning program passed, each with its default and why.

        Recorded when the program built its Trainer in the logged run; the reasons are
        `evidence.views.topic.TRAINER_REASONS` unless the topic's ``[defaults]`` says otherwise.
        """
        from evidence.checks import trainer_reasons

        passed = self.implementations.get("lightning", {}).get("trainer_kwargs")
        if not passed:
            return Html("")
        reasons = {**TRAINER_REASONS, **trainer_reasons(self.topic)}
        rows = [[Code(f"{name}={_literal(info['value'])}"), Code(_literal(info["default"])), reasons.get(name, "")]
                for name, info in passed.items()]
        missing = [name for name, info in passed.items() if name not in reasons]
        if missing:
            raise ValueError(f"{self.topic}: the Lightning program sets Trainer({', '.join(missing)}=...) and its "
                             "runs.toml gives no reason under [defaults]")
        return Html("<details class=\"note\"><summary>The <code>Trainer</code> arguments the Lightning program "
                    "sets, and why</summary>" + table(["argument (logged run)", "Trainer's default", "why"], rows,
                                                     caption=TRAINER_CAPTION) + "</details>")

    def trace(self) -> Html:
        """The recorded calls of every implementation, folded and aligned (`evidence.views.trace`)."""
        return trace.trace_table(self)

    def per_implementation(self, columns: dict, caption: str | None = None) -> Html:
        """A table with one row per implementation and one column per result value.

        ``columns`` maps a header to a result path (``"best_model_path"``) or to a function of the
        implementation's result (``lambda r: Code(r["best_file"])``). Values show as the
        `evidence.views.table` cells do: numbers, ``yes``/``no``, lists joined by commas.
        """
        rows = []
        for kind in self.kinds():
            row = [LABELS[kind]]
            for source in columns.values():
                value = source(self.implementations[kind]) if callable(source) else self.value(kind, source)
                row.append(", ".join(map(str, value)) if isinstance(value, list) else value)
            rows.append(row)
        return table(["implementation", *columns], rows, caption=caption)

    # -- what it cost -----------------------------------------------------------------------
    def timings(self) -> Html:
        """Steady-state time per optimizer step with its spread and the ratio's interval, start-up
        and the end apart, the whole call, and peak memory (`evidence.running.timing`)."""
        ref = self.kinds()[0]
        rows = []
        for kind, impl in self.implementations.items():
            t = impl.get("timing") or {}
            memory = nbytes(impl.get("memory", {}).get("bytes"))
            step = (f"{t['per_step_ms']:.3g} ms ({t['per_step_q1_ms']:.3g}–{t['per_step_q3_ms']:.3g})"
                    if "per_step_ms" in t else None)
            rows.append([LABELS[kind], t.get("runs", 0), step, "reference" if kind == ref else ratio_text(t),
                         seconds(t.get("startup_s")), seconds(t.get("after_s")),
                         f"{seconds(t['median_s'])} ({seconds(t['q1_s'])}–{seconds(t['q3_s'])})" if t else None,
                         memory])
        headers = ["implementation", "timed runs", "per step, steady state (IQR)", "vs " + LABELS[ref],
                   "start-up to first step", "after last step", "whole run (IQR)", "peak memory"]
        memory_kind = next(iter(self.implementations.values())).get("memory", {}).get("kind", "")
        return table(headers, rows, caption=TIMING_CAPTION + f" Memory: {memory_kind}.")

    def loc(self) -> Html:
        """Lines of code of each implementation, counted by code, with the rule beside the table."""
        found = {p.kind: p for p in programs(self.topic) if p.kind in self.implementations}
        ref = self.kinds()[0]
        rows = [[LABELS[k], Code(p.path.name), p.loc, "reference" if k == ref else f"{p.loc - found[ref].loc:+d}"]
                for k, p in found.items()]
        return table(["implementation", "file", "lines of code", "vs " + LABELS[ref]], rows, caption=LOC_RULE)


class ShownResult(RunViews, RunResult):
    """A run's result with its views: what ``load(topic).headline`` gives a page."""


class ShownRuns(TopicRuns):
    """A topic's runs with the views of the topic as a whole (its checks)."""

    def verdicts(self, *names: str) -> Html:
        """The topic's checks as a table: every one, or those named (`evidence.views.checks`)."""
        from evidence.views.checks import checks_table

        found = self.checks()
        if names:
            unknown = set(names) - {c["name"] for c in found}
            if unknown:
                raise KeyError(f"{self.topic!r} has no check named {sorted(unknown)} (see its runs.toml)")
            found = [c for c in found if c["name"] in names]
        return checks_table(found)


def load(topic: str) -> ShownRuns:
    """The declared runs of ``topic`` with their views: ``load("minimal_loop").headline.executed()``."""
    return results.load(topic, ShownResult, ShownRuns)
