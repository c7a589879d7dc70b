"""The machinery of the site: runs declared per topic, executed in workers, rendered by views.

Data flow: each topic's ``runs.toml`` declares its runs (`evidence.declared`); the build
executes the stale ones in worker processes and stores one result per run
(`evidence.running`); pages load results by run name (`load`) and show them through
views (`evidence.views`); ``summary.json`` is built from each topic's headline run
(`evidence.hooks.content`). A page does::

    from evidence import load

    result = load("minimal_loop").headline
    result.executed()
    result.costs()
"""

from __future__ import annotations

from evidence.results import RunResult, TopicRuns
from evidence.running.runner import TopicError
from evidence.views.topic import load

__all__ = ["RunResult", "TopicError", "TopicRuns", "load"]
