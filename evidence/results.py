"""Results by run name: the data a page loads (`evidence.load` adds the views).

A page does::

    from evidence import load

    runs = load("minimal_loop")      # the topic's declared runs (snippets/minimal_loop/runs.toml)
    result = runs.headline           # or runs["fp32"]: one run's result, with its views
    result.parity()

Loading never runs anything the build already ran: the build executes every stale declared
run before the pages (see `evidence.running.runner`). A page run on its own executes
what is missing.
"""

from __future__ import annotations

from evidence import declared
from evidence.running import measure, runner
from evidence.running.runner import TopicError


class RunResult:
    """One run's executed result: every implementation's values, parity and timings."""

    def __init__(self, run: declared.Run, report: dict):
        self.run = run
        self.data = report
        self.topic: str = report["topic"]
        self.environment: dict = report["environment"]
        self.implementations: dict = report.get("implementations", {})
        self.parity_data: dict | None = report.get("parity")

    def __getitem__(self, key: str):
        """A top-level value of the report (benchmark reports are read this way)."""
        return self.data[key]

    @property
    def params(self) -> dict:
        """The ``run()`` arguments every program got, as declared (overrides aside)."""
        return self.run.params

    def kinds(self) -> list[str]:
        """Implementation kinds present, in page order."""
        return list(self.implementations)

    def value(self, kind: str, path: str):
        """A value from one implementation's result, e.g. ``value("lightning", "history.val_loss")``."""
        return measure.lookup(self.implementations[kind], path)

    def values(self, path: str) -> dict:
        """``{kind: value}`` of one result path for every implementation."""
        return {kind: self.value(kind, path) for kind in self.kinds()}


class TopicRuns:
    """A topic's declared runs, loaded by name; the headline is the one ``summary.json`` shows."""

    def __init__(self, topic: str, result_class: type = RunResult):
        self.topic = topic
        self.declared = {run.name: run for run in declared.runs(topic)}
        self._class = result_class
        self._loaded: dict[str, RunResult] = {}

    @property
    def names(self) -> list[str]:
        """The run names, headline first."""
        return list(self.declared)

    @property
    def headline(self) -> RunResult:
        """The topic's headline run."""
        return self[self.names[0]]

    def __getitem__(self, name: str) -> RunResult:
        if name not in self.declared:
            raise KeyError(f"{self.topic!r} declares no run {name!r} in its runs.toml "
                           f"(runs: {', '.join(self.names)})")
        if name not in self._loaded:
            run = self.declared[name]
            report = runner.result(run)
            if "error" in report:
                error = report["error"]
                raise TopicError(f"run {name!r} of topic {self.topic!r} failed at {error['location']}\n"
                                 f"{error['traceback']}")
            self._loaded[name] = self._class(run, report)
        return self._loaded[name]


    def checks(self) -> list[dict]:
        """Every check of the topic, evaluated (`evidence.checks`): within each run, then the declared ones."""
        from evidence import checks

        present = [name for name in self.names if self.declared[name].runs_here()]
        reports = {name: self[name].data for name in present}
        keys = {name: runner.run_key(self.declared[name]) for name in present}
        return checks.topic_checks(self.topic, reports, keys, runner.cache_dir())


def stored_checks(topic: str) -> list[dict] | None:
    """The topic's evaluated checks from the results stored for its current inputs, or None
    while a run has none (the build evaluates them after its runs; `summary.json` publishes them)."""
    from evidence import checks

    present = [run for run in declared.runs(topic) if run.runs_here()]
    reports = {}
    for run in present:
        report = runner.stored(run)
        if report is None or "error" in report:
            return None
        reports[run.name] = report
    return checks.topic_checks(topic, reports, {r.name: runner.run_key(r) for r in present}, runner.cache_dir())


def load(topic: str, result_class: type = RunResult, runs_class: type = TopicRuns) -> TopicRuns:
    """The declared runs of ``topic``, whose results are read by run name (data only: a page
    uses `evidence.load`, which adds the views).

    A page names its topics literally (``load("minimal_loop")``): the build reads those names
    from the page's source to know which results the page depends on
    (`evidence.hooks.pages.GalleryScript.loaded_topics`).
    """
    return runs_class(topic, result_class)
