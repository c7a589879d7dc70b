"""Run shards of the version matrix: every topic's headline run on each Lightning 2.x version.

    python tools/version_matrix.py --version 2.3.3          # one shard (every topic)
    python tools/version_matrix.py --all                    # every version in evidence.matrix.VERSIONS
    python tools/version_matrix.py --version 2.0.9 --topics minimal_loop --out /tmp/shards
    python tools/version_matrix.py --list                   # versions, and which have results

Each shard makes (once) an environment holding that Lightning version beside this environment's
torch under ``.matrix/envs/``, runs the topics there and writes
``evidence/recorded/matrix/lightning-<version>.json``; a shard whose inputs are unchanged is
skipped (``--force`` runs it anyway). Commit the files: the site renders them and never runs a
shard itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evidence import matrix  # noqa: E402  (the project root is put on the path above)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--version", help="one Lightning version, e.g. 2.3.3")
    which.add_argument("--all", action="store_true", help="every version of the matrix")
    which.add_argument("--list", action="store_true", help="list the versions and their results")
    parser.add_argument("--topics", nargs="*", help="only these topics (default: every topic)")
    parser.add_argument("--out", type=Path, default=matrix.RESULTS_DIR, help="folder for the shard files")
    parser.add_argument("--force", action="store_true", help="run even if the inputs are unchanged")
    args = parser.parse_args(argv)
    if args.list:
        present = matrix.shards(args.out)
        for version in matrix.VERSIONS:
            data = present.get(version)
            print(f"{version}: " + (f"{data['environment']['date']}, {len(data['topics'])} topics" if data else "no results"))
        return 0
    versions = matrix.VERSIONS if args.all else [args.version]
    failed = 0
    for version in versions:
        path = matrix.run_shard(version, args.topics, args.out, force=args.force)
        cells = matrix.shards(args.out)[version]["topics"]
        failed += sum(c["status"] == "failed" for c in cells.values())
        print(f"wrote {path}")
    print(f"{failed} failed cell(s): failures are results, shown on the matrix page")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
