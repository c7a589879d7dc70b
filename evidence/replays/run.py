"""Running the replays on one Lightning release and writing its file.

`run_release` finds the release's interpreter (`evidence.matrix.environment`: the pinned
environment, or a matrix environment holding that Lightning beside the same torch), starts
`evidence.replays.server` there once (torch and pytorch_lightning imported once, a forked child
per program), evaluates each replay's checks on the values its programs returned, and writes
``evidence/recorded/replays/lightning-<version>.json``. A replay whose inputs
(`evidence.replays.replay_digest`) match its entry in the existing file is not run again, so
adding or changing one replay runs only that one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

from evidence import replays as rp
from evidence.replays.server import tail

SERVER = Path(__file__).resolve().parent / "server.py"


def run_programs(python: str, jobs: list[dict], log=lambda job, record: None) -> tuple[dict, dict[str, dict]]:
    """Run ``jobs`` (``{"id", "path", "timeout_s"}``) in ``python``'s server: the environment
    stamp as that interpreter sees it (`evidence.running.environment.stamp`; empty if the server
    could not start), and the jobs' records by id.

    A server that dies half-way leaves the jobs it did not report recorded as crashed, with the
    tail of its own error output. ``log(id, record)`` is called as each job ends."""
    from evidence.running import environment

    records: dict[str, dict] = {}
    machine: dict = {}
    with tempfile.TemporaryFile("w+") as errors:
        with subprocess.Popen([python, str(SERVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=errors, text=True, cwd=tempfile.gettempdir()) as proc:
            proc.stdin.write(json.dumps({"stamp": environment.__file__, "jobs": jobs}))
            proc.stdin.close()
            for line in proc.stdout:
                record = json.loads(line)
                if "stamp" in record:
                    machine = record["stamp"]
                    continue
                job = record.pop("id")
                records[job] = record
                log(job, record)
        errors.seek(0)
        said = tail(errors.read())
    for job in jobs:
        if job["id"] not in records:
            records[job["id"]] = {"status": "crashed", "seconds": 0.0, "log": said,
                                  "error": f"the replay server ended (exit code {proc.returncode}) before this program ran"}
    return machine, records


def clean(text: str, replay: rp.Replay) -> str:
    """A log or error as published: no adverts, and no path of this machine (the replay's folder,
    the project, interpreters, site-packages, temporary folders)."""
    import sys

    from evidence.running.measure import sanitize
    from evidence.running.policy import strip_adverts

    roots = [str(replay.folder), str(rp.PROJECT_DIR), sys.prefix, sys.base_prefix]
    text = sanitize(strip_adverts(text), roots)
    for temp in {tempfile.gettempdir(), "/tmp", "/var/tmp"}:
        text = re.sub(re.escape(temp.rstrip("/")) + r"/[^\s/'\"]+", "<tmp>", text)
    return text


def _published(value, replay: rp.Replay):
    """A program's record with `clean` applied to every string in it (its values included)."""
    if isinstance(value, str):
        return clean(value, replay)
    if isinstance(value, dict):
        return {k: _published(v, replay) for k, v in value.items()}
    if isinstance(value, list):
        return [_published(v, replay) for v in value]
    return value


def entry(replay: rp.Replay, version: str, records: dict[str, dict]) -> dict:
    """A replay's entry in a release's file: its programs' records, its checks and verdicts."""
    records = {kind: _published(record, replay) for kind, record in records.items()}
    program = records["replay"]
    check = rp.evaluate(replay.reproduces, program["values"]) if program["status"] == "ran" else None
    out = {"inputs": rp.replay_digest(replay, version), "issue": replay.issue, "kind": replay.kind,
           "replay": program, "reproduces": check, "verdict": rp.verdict(replay, program, check)}
    if replay.workaround is not None:
        program = records["workaround"]
        check = rp.evaluate(replay.workaround, program["values"]) if program["status"] == "ran" else None
        out.update({"workaround": program, "workaround_check": check,
                    "workaround_verdict": rp.verdict(replay, program, check, workaround=True)})
    return out


def run_release(version: str, folder: Path | None = None, force: bool = False, log=print,
                python: str | None = None, root: Path | None = None) -> Path:
    """Run every replay (under ``root``, default `evidence.replays.REPLAYS_DIR`) whose entry for
    Lightning ``version`` is missing or stale, and (re)write the release's file in ``folder``.

    ``python`` is the interpreter to use (default: the release's environment). Returns the
    file's path; writes nothing when every entry is current."""
    from evidence import matrix
    from evidence.running.runner import files_digest

    replays = rp.discover(root)
    path = rp.release_path(version, folder)
    old = rp.releases(path.parent).get(version) if path.exists() else None
    kept = {}
    if old is not None and not force:
        # an entry not to run again is kept, its checks evaluated again from its stored values
        again = rp.to_run(old, replays)
        kept = {r.name: {**entry(r, version, {k: old["replays"][r.name][k] for k in r.programs}),
                         "date": old["replays"][r.name].get("date")}
                for r in replays if r.name not in again}
    todo = [r for r in replays if r.name not in kept]
    if old is not None and not todo and kept == old["replays"]:
        log(f"lightning {version}: replays unchanged, results kept ({path.name})")
        return path
    started = time.monotonic()
    entries = dict(kept)
    machine = None
    try:
        python = python or matrix.environment(version, log)
    except matrix.ShardError as error:
        python = None
        for replay in todo:
            failed = {"status": "crashed", "error": str(error), "location": "install", "seconds": 0.0, "log": ""}
            entries[replay.name] = entry(replay, version, {kind: failed for kind in replay.programs})
    if python is not None:
        jobs = [{"id": f"{r.name}/{kind}", "path": str(p), "timeout_s": rp.TIMEOUT_S}
                for r in todo for kind, p in r.programs.items()]
        if jobs:
            log(f"lightning {version}: {len(todo)} replay(s), {len(jobs)} program(s)")
            said = (lambda job, record: log(f"lightning {version}: {job} {record['status']} ({record['seconds']:.1f} s)"))
            machine, records = run_programs(python, jobs, log=said)
            for replay in todo:
                entries[replay.name] = entry(replay, version, {k: records[f"{replay.name}/{k}"] for k in replay.programs})
                e = entries[replay.name]
                log(f"lightning {version}: {replay.name} {e['verdict']}"
                    + (f", workaround {e['workaround_verdict']}" if "workaround_verdict" in e else "")
                    + f" ({sum(records[f'{replay.name}/{k}']['seconds'] for k in replay.programs):.1f} s)")
        else:
            machine, _ = run_programs(python, [])
    if not machine:
        machine = old["environment"] if old else {"pytorch_lightning": version, "lightning_fabric": version,
                                                  "torch": rp.torch_version()}
    date = machine.get("date")
    for name in entries:
        if name not in kept:
            entries[name]["date"] = date
    data = {"kind": rp.KIND, "lightning": version, "environment": machine,
            "machinery": files_digest(rp.machinery_files())[:16],
            "seconds": round(time.monotonic() - started, 1),
            "replays": dict(sorted(entries.items()))}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=True, default=str) + "\n")
    tmp.replace(path)
    return path
