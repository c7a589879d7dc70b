"""Views of the benchmark pages (``gallery/benchmarks/``): a benchmark's result, its tables and figures.

The build executes the four benchmarks declared in ``evidence/benchmarks/runs.toml``
(``overhead``, ``defaults``, ``startup``, ``parity_workload``) in their worker
(`evidence.benchmarks.worker`) before any page runs. A page only loads one and shows it::

    from evidence.benchmarks.views import benchmark

    bench = benchmark("overhead")
    bench.stamp()
    bench.overhead_table()

`Benchmark` holds the views of every benchmark, grouped by the page that shows them; a
view asked of the wrong benchmark says so. ``DOCS_BENCHMARK=full`` selects the full
configuration (more sizes and rounds), ``quick`` or nothing the quick one, and the worker
rejects any other value; it is part of every result's key, so the two never share a result.

Results from a CUDA GPU are recorded by ``tools/gpu_evidence.py`` (the overhead benchmark among
them) into the files committed under ``evidence/recorded/gpu/``; `Benchmark.committed` lists
those of its benchmark, or says that none is committed.
"""

from __future__ import annotations

from collections.abc import Callable

from typing import TYPE_CHECKING

import json
import statistics
from pathlib import Path

from evidence.programs import LABELS
from evidence.recorded import GPU_DIR as RESULTS_DIR
from evidence.results import load
from evidence.views.topic import ShownResult as RunResult
from evidence.views import Code, Em, Html, Joined, Strong, admonition, count, figures, nbytes, paragraph, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure



MLP_KINDS = ("pytorch", "lightning", "fabric")
"""The three programs of the MLP benchmarks, in table order."""

FRAMEWORKS = ("lightning", "fabric")
"""The programs whose overhead over plain PyTorch is measured."""

THRESHOLDS_PCT = ("5.0", "1.0")
"""The overhead thresholds of the crossover table (keys of the report's ``crossover``)."""

DEFAULTS_PROGRAMS = ("pytorch", "fabric", "lightning:matched", "lightning:barebones", "lightning:default")
"""The rows of the defaults page's program table, in order."""

STARTUP_PHASES = (("construct", "#4c72b0"), ("to_first_step", "#dd8452"), ("first_step", "#55a868"))
"""The stacked phases of the start-up figure and their colours."""


def benchmark(name: str) -> Benchmark:
    """The result of one benchmark run of ``evidence/benchmarks/runs.toml``, e.g. ``benchmark("overhead")``."""
    return load("benchmarks", Benchmark)[name]


# -- formats ------------------------------------------------------------------------------------

def milliseconds(value: float, digits: int = 3) -> str:
    """A time already in milliseconds: ``1.317`` -> ``1.32 ms``, ``1234.5`` -> ``1234 ms``."""
    return f"{value:.{digits}g} ms" if abs(value) < 100 else f"{value:.0f} ms"


def duration(value: float) -> str:
    """A time in seconds, in milliseconds below one second: ``0.0123`` -> ``12.3 ms``, ``4.6`` -> ``4.60 s``."""
    return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.2f} s"


def spread(summary: dict, fmt: Callable[[float], str] = milliseconds) -> Joined:
    """A median with its interquartile range: ``1.32 ms (IQR 1.12 ms – 1.45 ms)``.

    Args:
        summary: ``{"median", "q1", "q3", ...}`` as `evidence.benchmarks.analysis.spread` makes it.
        fmt: how one value is written (`milliseconds` or `duration`).
    """
    return Joined([fmt(summary["median"]), Em(f"(IQR {fmt(summary['q1'])} – {fmt(summary['q3'])})")], sep=" ")


def extra(overhead: dict, pct_digits: int = 1) -> str:
    """A paired overhead's median in milliseconds and in percent with its 95 % interval
    (``+1.05 ms (+56.7 %), 95 % interval +50.1 to +60.3 %``), or "no measurable difference" with
    the interval where it holds zero.

    Args:
        overhead: ``{"ms": {...}, "pct": {...}}`` as `evidence.benchmarks.analysis.paired_overhead` makes it.
        pct_digits: decimals of the percentage.
    """
    text = f"{overhead['ms']['median']:+.3g} ms ({overhead['pct']['median']:+.{pct_digits}f} %)"
    if "pct_interval" not in overhead:
        return text
    low, high = overhead["pct_interval"]
    if overhead["verdict"] == "no measurable difference":
        return f"no measurable difference ({low:+.{pct_digits}f} to {high:+.{pct_digits}f} %)"
    return f"{text}, 95 % interval {low:+.{pct_digits}f} to {high:+.{pct_digits}f} %"


def label(kind: str) -> str:
    """A program's name: ``pytorch`` -> ``PyTorch``, ``lightning:matched`` -> ``Lightning (matched)``."""
    if kind.startswith("lightning:"):
        return f"Lightning ({kind.split(':', 1)[1]})"
    return LABELS.get(kind, kind)


class Benchmark(RunResult):
    """One benchmark's executed result (a run of ``evidence/benchmarks/runs.toml``) and its views."""

    @property
    def name(self) -> str:
        """The benchmark: ``overhead``, ``defaults``, ``startup`` or ``parity_workload``."""
        return self.data["bench"]

    def _expect(self, *names: str) -> None:
        if self.name not in names:
            raise ValueError(f"this view shows the {' or '.join(names)} benchmark, not {self.name!r}")

    # -- every page -----------------------------------------------------------------------------
    @property
    def basis_text(self) -> str:
        """Which clock the times are: the process's CPU time on a CPU, wall-clock on CUDA."""
        if self.data["basis"] == "cpu":
            return "CPU time of the benchmark process"
        return "wall-clock time, waiting for the GPU at each time stamp"

    def stamp(self) -> Html:
        """The environment stamp, then the CPU, the configuration that produced the page and the clock."""
        env, config = self.environment, self.data["config"]
        if config == "quick":
            which = ["the ", Strong("quick"), " configuration (the default; ", Code("DOCS_BENCHMARK=full"),
                     " runs the full one)"]
        else:
            which = ["the ", Strong(config), " configuration"]
        return Html(super().stamp() + paragraph(f"CPU: {env['cpu']}, {env['cpu_count']} logical cores. Produced by ",
                                                *which, f". Times are {self.basis_text}."))

    def checks(self) -> Html:
        """Every weights comparison of the timed runs, grouped by pair (and size); stops the page if one differs.

        Where the benchmark also compared the last losses to five decimals (Lightning's own
        check, on the parity-workload page), a line under the table says whether they agreed.
        """
        groups: dict[tuple, list[dict]] = {}
        for c in self.data["checks"]:
            where = ", ".join(f"{k} {v}" for k, v in c.items() if k in ("size",))
            groups.setdefault((c["pair"][0], c["pair"][1], where), []).append(c)
        rows = []
        for (ref, other, where), cs in groups.items():
            worst = max(c["max_abs_difference"] for c in cs)
            verdict = "identical" if all(c["identical"] for c in cs) else "differs"
            rows.append([f"{label(ref)} vs {label(other)}", where or None, len(cs), f"{worst:.3g}" if worst else "0.0",
                         Code(cs[0]["digest"][1]), Strong(verdict)])
        failed = [c for c in self.data["checks"] if not c["identical"]]
        assert self.data["all_identical"] and not failed, f"final weights differ: {failed[:3]}"
        shown = table(["pair", "where", "runs compared", "largest |difference|", "sha256 of the weights (first run)",
                       "verdict"], rows,
                      caption="Final weights of every timed run, compared element by element with the plain "
                              "PyTorch run of the same round. The page stops the build if one differs.")
        if "losses_equal_5_decimals" in self.data:
            shown = Html(shown + paragraph("Last losses equal to five decimals (the test's own check): ",
                                           Strong(self.data["losses_equal_5_decimals"])))
        return shown

    def logs(self) -> None:
        """Print what the programs printed in the warm-up run (the defaults page: default and barebones ``Trainer``)."""
        for name, text in self.data.get("logs", {}).items():
            print(f"──── {label(name)} " + "─" * 30)
            print(text.rstrip())
            print()

    def committed(self, folder: Path = RESULTS_DIR) -> Html:
        """This benchmark's results committed from other machines, or a note that none is committed."""
        return committed_table(self.name, folder)

    # -- the overhead page ----------------------------------------------------------------------
    @property
    def sizes(self) -> list[dict]:
        """The overhead sweep: one entry per model size, smallest first."""
        self._expect("overhead")
        return self.data["sizes"]

    @property
    def parameters(self) -> list[int]:
        """The parameter count of every swept model, smallest first."""
        return [s["workload"]["parameters"] for s in self.sizes]

    def overhead_table(self) -> Html:
        """Time per step of the three programs and the overheads, one row per model size."""
        rows = []
        for s in self.sizes:
            w, per_step, overhead = s["workload"], s["per_step_ms"], s["overhead"]
            rows.append([w["width"], count(w["parameters"]), f"{w['steps'] - w['warmup']} × {s['rounds']}",
                         *(spread(per_step[k]) for k in MLP_KINDS), *(extra(overhead[k]) for k in FRAMEWORKS)])
        return table(["width", "parameters", "timed steps × rounds", "PyTorch per step", "Lightning per step",
                      "Fabric per step", "Lightning overhead", "Fabric overhead"], rows,
                     caption="Median over the rounds (IQR in brackets); overheads are medians of per-round "
                             "differences against the plain loop of the same round.")

    def overhead_figure(self) -> Figure:
        """Overhead against model size, in milliseconds and in percent (symlog, 5 % and 1 % lines), IQR bars."""
        sizes, params = self.sizes, self.parameters
        fig, axes = figures.panels(2, width=5.5, height=4)
        for kind in FRAMEWORKS:
            for ax, unit in zip(axes, ("ms", "pct")):
                cost = [s["overhead"][kind][unit] for s in sizes]
                med = [c["median"] for c in cost]
                below = [c["median"] - c["q1"] for c in cost]
                above = [c["q3"] - c["median"] for c in cost]
                ax.errorbar(params, med, yerr=[below, above], label=LABELS[kind], capsize=3, **figures.style(kind))
        for ax in axes:
            ax.set_xscale("log")
            ax.axhline(0, color="grey", linewidth=0.8)
        axes[1].set_yscale("symlog", linthresh=1)
        for threshold in (5, 1):
            axes[1].axhline(threshold, color="red", linewidth=0.8, linestyle="-.")
        figures.finish(axes[0], title="Overhead per step (ms)", xlabel="model parameters",
                       ylabel="extra time per step (ms)")
        figures.finish(axes[1], title="Overhead per step (% of the plain step)", xlabel="model parameters",
                       ylabel="extra time per step (% of plain PyTorch)", legend=False)
        fig.suptitle("Per-step overhead of Lightning and Fabric against the same plain PyTorch loop")
        fig.tight_layout()
        return fig

    def crossover_table(self) -> Html:
        """Where the overhead falls (and stays) under 5 % and 1 %: the swept size and the interpolated crossing."""
        largest = count(self.parameters[-1])
        rows = []
        for kind in FRAMEWORKS:
            for threshold in THRESHOLDS_PCT:
                c = self.data["crossover"][kind][threshold]
                if not c["reached"]:
                    answer, where = "not reached in the sweep", f"still ≥ {c['threshold_pct']:g} % at {largest}"
                elif c["below_from_smallest"]:
                    answer, where = "already below at the smallest model", count(c["size"])
                else:
                    answer = f"{count(c['size'])} parameters (swept model)"
                    where = f"≈ {count(c['interpolated'])} parameters"
                rows.append([LABELS[kind], f"{float(threshold):g} %", answer, where])
        return table(["framework", "threshold", "first swept size below (and staying below)", "interpolated crossing"],
                     rows)

    def memory_table(self) -> Html:
        """Peak memory of one short run of each program, per model size."""
        sizes = self.sizes
        steps = [s["memory_steps"] for s in sizes]
        rows = [[count(s["workload"]["parameters"]), *(nbytes(s["memory_bytes"][k]) for k in MLP_KINDS)] for s in sizes]
        return table(["parameters", *(LABELS[k] for k in MLP_KINDS)], rows,
                     caption=f"{self.data['memory_kind']} during a run of {min(steps)}–{max(steps)} steps.")

    # -- the defaults page ----------------------------------------------------------------------
    def trainer_parts_table(self) -> Html:
        """What a default, matched and barebones ``Trainer`` held: callbacks, logger, logging and sanity steps."""
        self._expect("defaults")
        rows = [[Code(settings), ", ".join(p["callbacks"]) or "none", str(p["logger"]), p["log_every_n_steps"],
                 p["num_sanity_val_steps"]] for settings, p in self.data["trainer_parts"].items()]
        return table(["settings", "callbacks", "logger", "log_every_n_steps", "num_sanity_val_steps"], rows)

    def programs_table(self) -> Html:
        """Plain PyTorch, Fabric and the matched, barebones and default ``Trainer``: per step, per run, extra."""
        self._expect("defaults")
        w = self.data["workload"]
        rows = []
        for name in DEFAULTS_PROGRAMS:
            vs = self.data["versus_pytorch"].get(name)
            rows.append([label(name), spread(self.data["per_step_ms"][name]),
                         spread(self.data["run_s"][name], duration),
                         "reference" if vs is None else extra(vs["per_step"], 0),
                         "reference" if vs is None else duration(vs["run"]["ms"]["median"] / 1000)])
        return table(["program", "per step", "per run", "extra per step vs PyTorch", "extra per run vs PyTorch"], rows,
                     caption=f"MLP width {w['width']} ({count(w['parameters'])} parameters), {w['batches']} batches × "
                             f"{w['epochs']} epoch(s), {w['val_batches']} validation batches per epoch; median (IQR) "
                             f"of {self.data['rounds']} rounds.")

    def features_table(self) -> Html:
        """The cost of each default feature over the matched ``Trainer`` of the same round."""
        self._expect("defaults")
        rows = [[name.replace("_", " "), self.data["variants"][name]["what"], extra(cost["per_step"], 0),
                 duration(cost["run"]["ms"]["median"] / 1000)] for name, cost in self.data["features"].items()]
        return table(["feature", "setting", "extra per step", "extra per run"], rows)

    def features_figure(self) -> Figure:
        """The same costs as horizontal bars, per step and per run, with the rounds' IQR."""
        self._expect("defaults")
        features = self.data["features"]
        names = list(features)
        fig, axes = figures.panels(2, width=5.5, height=4.2, sharey=True)
        for ax, key, title, xlabel in ((axes[0], "per_step", "per step", "extra time per step (ms)"),
                                       (axes[1], "run", "per complete run", "extra time per run (ms)")):
            cost = [features[n][key]["ms"] for n in names]
            med = [c["median"] for c in cost]
            iqr = [[m - c["q1"] for m, c in zip(med, cost)], [c["q3"] - m for m, c in zip(med, cost)]]
            ax.barh(names, med, xerr=iqr, color="#7b61c4", alpha=0.8, capsize=3)
            ax.axvline(0, color="grey", linewidth=0.8)
            ax.grid(False, axis="y")
            figures.finish(ax, title=title, xlabel=xlabel)
        fig.suptitle("Cost of each Lightning default feature over a matched Trainer")
        fig.tight_layout()
        return fig

    # -- the start-up page ----------------------------------------------------------------------
    def imports_table(self) -> Html:
        """Import time of torch, Fabric and Lightning in fresh interpreters, with wall-clock beside."""
        self._expect("startup")
        modules, wall = self.data["import_modules"], self.data["imports_wall_s"]
        rows = [[name, Code(f"import {modules[name]}"), spread(s, duration), duration(wall[name]["median"]), s["runs"]]
                for name, s in self.data["imports_s"].items()]
        return table(["framework", "module", "import time", "wall-clock", "imports"], rows)

    def construction_table(self) -> Html:
        """Construction time of a matched ``Trainer``, a default ``Trainer()`` and a ``Fabric`` object."""
        self._expect("startup")
        rows = [[name, spread(s, duration)] for name, s in self.data["construct_s"].items()]
        return table(["object", "construction"], rows,
                     caption=f"Median (IQR) of {self.data['rounds']} constructions each, after one dropped.")

    def phases_table(self) -> Html:
        """The phases of a short run of each program: construction, set-up, first step, later steps, whole run."""
        self._expect("startup")
        w = self.data["workload"]
        phases = ("construct", "to_first_step", "first_step", "per_step", "run")
        rows = [[LABELS[kind], *(spread(ph[p], duration) for p in phases)]
                for kind, ph in self.data["phases_s"].items()]
        return table(["program", "construction", "set-up to first step", "first step", "later steps (each)", "per run"],
                     rows, caption=f"Short runs of the {count(w['parameters'])}-parameter MLP ({w['steps']} steps), "
                                   f"{self.data['rounds']} rounds.")

    def first_run_table(self) -> Html:
        """The first run of each program in the process, before any was repeated (on the page's clock)."""
        self._expect("startup")
        clock = "_cpu" if self.data["basis"] == "cpu" else ""
        rows = [[LABELS[kind], *(duration(run[f"{p}{clock}_s"]) for p in ("to_first_step", "first_step", "run"))]
                for kind, run in self.data["first_in_process"].items()]
        return table(["program", "set-up to first step", "first step", "per run"], rows)

    def phases_figure(self) -> Figure:
        """Construction, set-up and first step of each program as stacked bars (medians, milliseconds)."""
        self._expect("startup")
        phases = self.data["phases_s"]
        kinds = list(phases)
        fig, (ax,) = figures.panels(1, width=9, height=3.4)
        left = [0.0] * len(kinds)
        for phase, colour in STARTUP_PHASES:
            widths = [1000 * phases[k][phase]["median"] for k in kinds]
            ax.barh([LABELS[k] for k in kinds], widths, left=left, label=phase.replace("_", " "), color=colour)
            left = [a + b for a, b in zip(left, widths)]
        ax.grid(False, axis="y")
        figures.finish(ax, xlabel="milliseconds", legend=False)
        ax.legend(loc="lower right")
        fig.suptitle("From constructing the trainer to the end of the first step")
        fig.tight_layout()
        return fig

    # -- the parity-workload page ---------------------------------------------------------------
    def verdict(self) -> Html:
        """Lightning's two thresholds, what was measured and the verdicts; on a CPU, what the memory row means."""
        self._expect("parity_workload")
        speed, memory, env = self.data["speed"], self.data["memory"], self.environment
        gpu = self.data["device"] == "cuda"
        mem_verdict = "undefined" if memory["passes"] is None else ("passes" if memory["passes"] else "fails")
        rows = [["speed", f"{speed['threshold_s']} s per epoch", f"{speed['value_s']:+.4f} s per epoch",
                 Strong("passes" if speed["passes"] else "fails")],
                ["memory", f"{100 * memory['threshold']:.1f} %",
                 None if memory["value"] is None else f"{100 * memory['value']:+.2f} %",
                 Strong(mem_verdict) if gpu else Joined([Strong(mem_verdict), "(CPU reading; see below)"], sep=" ")]]
        shown = table(["check", "Lightning's threshold", "measured (Lightning − plain)", "verdict"], rows,
                      caption=f"pytorch_lightning {env['pytorch_lightning']} on {env['device_name']}, "
                              f"{self.data['num_runs'] - 1} kept runs of {self.data['num_epochs']} epochs each.")
        if gpu:
            return shown
        return Html(shown + paragraph(
            "The test itself only runs with a CUDA GPU (it is skipped otherwise) and reads memory with ",
            Code("torch.cuda.max_memory_allocated"), ", which has no CPU equivalent: on this CPU the memory row "
            "compares the growth of the process's resident set size instead, which also counts Python objects "
            "Lightning creates, so it is a stricter and noisier reading than the test's."))

    def runs_table(self) -> Html:
        """Every run of both loops: duration on the page's clock, wall-clock, and the last loss."""
        self._expect("parity_workload")
        d, wall, losses = self.data["durations_s"], self.data["durations_wall_s"], self.data["losses"]
        rows = [[i, "dropped (1 epoch)" if i == 0 else "kept", duration(d["pytorch"][i]), duration(d["lightning"][i]),
                 f"{duration(wall['pytorch'][i])} / {duration(wall['lightning'][i])}",
                 f"{losses['pytorch'][i]:.6f} / {losses['lightning'][i]:.6f}"] for i in range(self.data["num_runs"])]
        return table(["run (seed)", "", "plain", "Lightning", "wall-clock plain / Lightning",
                      "last loss plain / Lightning"], rows)

    def per_epoch(self) -> dict[str, list[float]]:
        """Seconds per epoch of every kept run (the first is dropped, as the test drops it), per loop."""
        self._expect("parity_workload")
        d, epochs = self.data["durations_s"], self.data["num_epochs"]
        return {k: [d[k][i] / epochs for i in range(1, self.data["num_runs"])] for k in ("pytorch", "lightning")}

    def per_epoch_figure(self) -> Figure:
        """Seconds per epoch of each kept run, with the threshold line (the plain loop's mean plus 0.05 s)."""
        per_epoch, threshold = self.per_epoch(), self.data["speed"]["threshold_s"]
        kept = list(range(1, self.data["num_runs"]))
        fig, (ax,) = figures.panels(1, width=7, height=3.6)
        for kind in ("pytorch", "lightning"):
            figures.overlay(ax, kind, kept, per_epoch[kind], linestyle="", markersize=8)
        ax.axhline(statistics.fmean(per_epoch["pytorch"]) + threshold, color="red", linestyle="-.",
                   label=f"plain mean + {threshold:g} s (threshold)")
        ax.set_xticks(kept)
        figures.finish(ax, xlabel="run", ylabel="seconds per epoch")
        fig.suptitle("ParityModuleRNN: time per epoch, plain loop and Lightning")
        fig.tight_layout()
        return fig

    def parity_memory_table(self) -> Html:
        """The memory readings of both loops (two alternating runs each) and their means."""
        self._expect("parity_workload")
        rows = [[LABELS[k], ", ".join(nbytes(x) for x in v), nbytes(statistics.fmean(v))]
                for k, v in self.data["memory_bytes"].items()]
        return table(["loop", "readings", "mean"], rows,
                     caption=f"{self.data['memory_kind']} during one {self.data['num_epochs']}-epoch run (seed 1), "
                             f"two runs per loop, alternating.")


# -- results committed from other machines -----------------------------------------------------------

def committed_results(folder: Path = RESULTS_DIR) -> list[dict]:
    """The benchmark reports of every GPU results file ``tools/gpu_evidence.py`` wrote and that
    is committed under ``evidence/recorded/gpu/``, each with the file's name (``_file``) and machine."""
    from evidence.recorded import gpu_records

    return [{**report, "environment": record["environment"], "_file": record["file"]}
            for record in gpu_records(folder) for report in record.get("benchmarks", {}).values()]


def committed_table(bench: str, folder: Path = RESULTS_DIR) -> Html:
    """The committed results of one benchmark (machine, date, configuration, headline), or a note that none is."""
    found = [d for d in committed_results(folder) if d.get("bench") == bench]
    if not found:
        return admonition("note", "No committed results yet", [
            "Results recorded on a CUDA GPU by ", Code("tools/gpu_evidence.py"), " would be shown here from ",
            Code("evidence/recorded/gpu/*.json"), ", with the machine and the date. None holds this benchmark yet: "
            "every number on this page comes from this build's machine."])
    rows = []
    for d in found:
        env = d.get("environment", {})
        rows.append([d["_file"], env.get("device_name", "?"), env.get("device", "?"), env.get("date", "?"),
                     d.get("config", "?"), headline(d)])
    return table(["file", "machine", "device", "date", "configuration", "headline"], rows,
                 caption="Committed results from other machines (not produced by this build).")


def headline(d: dict) -> str:
    """One line summarising a benchmark report (the committed-results table)."""
    if d.get("bench") == "overhead" and d.get("sizes"):
        s = d["sizes"][0]
        o = s["overhead"]["lightning"]
        return (f"Lightning {o['ms']['median']:+.3g} ms/step ({o['pct']['median']:+.0f} %) on the "
                f"{count(s['workload']['parameters'])}-parameter MLP")
    if d.get("bench") == "parity_workload":
        sp = d["speed"]
        return f"{sp['value_s']:+.3f} s/epoch vs threshold {sp['threshold_s']} s"
    return d.get("bench", "?")
