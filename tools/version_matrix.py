"""Run shards of the version matrix: every topic's headline run and every replay on each Lightning 2.x version.

    python tools/version_matrix.py --version 2.3.3          # one shard (every topic, every replay)
    python tools/version_matrix.py --all                    # every version in evidence.matrix.VERSIONS
    python tools/version_matrix.py --version 2.0.9 --topics minimal_loop --out /tmp/shards
    python tools/version_matrix.py --replays-only --version 2.0.9   # only the known issues replayed
    python tools/version_matrix.py --list                   # versions, and which have results

Each shard makes (once) an environment holding that Lightning version beside this environment's
torch under ``.matrix/envs/``, runs the topics there and writes
``evidence/recorded/matrix/lightning-<version>.json``, then runs the replays
(``snippets/replays/*/``) there and writes ``evidence/recorded/replays/lightning-<version>.json``.
A shard whose inputs are unchanged is skipped, and so is each replay whose files are unchanged
(``--force`` runs them anyway). Commit the files: the site renders them and never runs a shard
itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evidence import matrix, replays  # noqa: E402  (the project root is put on the path above)
from evidence.replays import run as replay_run  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--version", help="one Lightning version, e.g. 2.3.3")
    which.add_argument("--all", action="store_true", help="every version of the matrix")
    which.add_argument("--list", action="store_true", help="list the versions and their results")
    parser.add_argument("--topics", nargs="*", help="only these topics (default: every topic)")
    parser.add_argument("--out", type=Path, default=matrix.RESULTS_DIR, help="folder for the shard files")
    parser.add_argument("--replays-out", type=Path, default=replays.RESULTS_DIR, help="folder for the replay files")
    parser.add_argument("--replays-only", action="store_true", help="run only the replays (snippets/replays/)")
    parser.add_argument("--force", action="store_true", help="run even if the inputs are unchanged")
    args = parser.parse_args(argv)
    if args.list:
        present, replayed = matrix.shards(args.out), replays.releases(args.replays_out)
        known = replays.discover()
        for version in matrix.VERSIONS:
            data, rdata = present.get(version), replayed.get(version)
            stale = replays.to_run(rdata, known) if rdata else []
            print(f"{version}: " + (f"{data['environment']['date']}, {len(data['topics'])} topics" if data else "no results")
                  + "; replays: " + (f"{rdata['file']}, {len(rdata['replays'])} replays"
                                     + (f" ({len(stale)} to run: {', '.join(stale)})" if stale else "")
                                     if rdata else "no results"))
        return 0
    versions = matrix.VERSIONS if args.all else [args.version]
    failed = 0
    for version in versions:
        if not args.replays_only:
            path = matrix.run_shard(version, args.topics, args.out, force=args.force)
            cells = matrix.shards(args.out)[version]["topics"]
            failed += sum(c["status"] == "failed" for c in cells.values())
            print(f"wrote {path}")
        path = replay_run.run_release(version, args.replays_out, force=args.force)
        print(f"wrote {path}")
    if not args.replays_only:
        print(f"{failed} failed cell(s): failures are results, shown on the matrix page")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
