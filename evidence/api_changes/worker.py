"""The API-changes worker: ``python -m evidence.api_changes.worker JOB.json OUT_DIR``.

Attempts every old call of `evidence.api_changes.cases.CASES` and its replacement on the
installed Lightning, in a fresh process, and reports what each did with its source.
"""

from __future__ import annotations

import dataclasses

from evidence.running import measure, policy
from evidence.running.environment import stamp
from evidence.running.worker import serve


def run_spec(spec: dict) -> dict:
    policy.apply()
    import pytorch_lightning

    from evidence.api_changes.cases import CASES, attempt, source

    measure.route_library_logging()
    cases = []
    for slug, title, old, new in CASES:
        with measure.captured_output():
            before, after = attempt(old), attempt(new)
        cases.append({"slug": slug, "title": title,
                      "old": {"source": source(old), **dataclasses.asdict(before)},
                      "new": {"source": source(new), **dataclasses.asdict(after)}})
    return {"topic": spec["topic"], "run": spec["run"], "environment": stamp(1),
            "pytorch_lightning": pytorch_lightning.__version__, "cases": cases}


if __name__ == "__main__":
    raise SystemExit(serve(run_spec))
