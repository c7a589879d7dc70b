"""The one place that runs, times, compares and reports the programs of a topic.

A gallery script does::

    from snippets.harness import run_topic

    result = run_topic("minimal_loop", params={"epochs": 20}, compare=["state_dict"])
    result.logs(); result.plot(); result.timings(); result.parity()
"""

from __future__ import annotations

from collections.abc import Sequence

from snippets.harness.programs import count_loc, programs, topics
from snippets.harness.report import Html, TopicResult
from snippets.harness.runner import TopicError, make_spec, run_spec

__all__ = ["Html", "TopicError", "TopicResult", "count_loc", "programs", "run_topic", "topics"]


def run_topic(topic: str, params: dict | None = None, compare: Sequence[str] = ("state_dict",), tolerance: float = 0.0,
              repeats: int = 5, threads: int = 1, overrides: dict | None = None,
              save: bool = True) -> TopicResult:
    """Run every implementation of ``topic`` in a worker process and return the results.

    Args:
        topic: folder name under ``snippets/``.
        params: keyword arguments passed to every program's ``run()``.
        compare: result paths compared with the reference implementation, headline first
            (``"state_dict"`` for final weights, ``"history.val_loss"``, ``"stopped_epoch"``...).
        tolerance: the largest difference still called ``close`` (zero means bitwise).
        repeats: timed rounds after the logged run (0 skips timing).
        threads: ``torch.set_num_threads`` in the worker, the same for every implementation.
        overrides: extra ``run()`` arguments per implementation kind.
        save: record this run as the topic's entry in ``results/summary.json``. A page that
            runs a topic several times (other settings, other modes) saves the headline run
            and passes ``save=False`` for the others.

    Raises:
        TopicError: a program raised (the message names its file and line) or the topic ran
            past its timeout.
    """
    spec = make_spec(topic, params, compare, tolerance, repeats, threads, overrides)
    report = run_spec(spec)
    if "error" in report:
        error = report["error"]
        raise TopicError(f"topic {topic!r} failed at {error['location']}\n{error['traceback']}")
    result = TopicResult(report)
    if save:
        result.save()
    return result
