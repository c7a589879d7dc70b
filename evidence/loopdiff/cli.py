"""The ``loopdiff`` command line: ``loopdiff record`` and ``loopdiff diff``.

::

    loopdiff record -o a.json [--max-steps N] [--snapshot-mb MB] SCRIPT [ARGS...]
    loopdiff diff a.json b.json [--tolerance T] [--context N]

Everything after ``SCRIPT`` is the script's own command line. What it cannot do, it says in one
line on stderr (``loopdiff: error: ...``) and exits 3.
"""

from __future__ import annotations

import argparse
import sys

from evidence.loopdiff import comparing, recording

UNUSABLE = comparing.EXIT_CODES["unusable"]
"""The exit code for anything loopdiff cannot record or compare."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line exits 3 (unusable input), not 2, which ``diff`` keeps for
    "different"."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(UNUSABLE, f"loopdiff: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    """The command line's parser, with its two subcommands."""
    main_parser = _Parser(
        prog="loopdiff", description="Record two training runs call by call, then say at which optimizer step "
                                     "they part and why.")
    commands = main_parser.add_subparsers(dest="command", required=True)
    record = commands.add_parser(
        "record", help="run a training script under the recorder and write a recording",
        description="Run SCRIPT as `python SCRIPT ARGS...` would, unchanged, recording its training calls, the loss "
                    "and a parameter digest after every optimizer step, and parameter snapshots within a memory "
                    "budget. Only rank 0 of a multi-process run records (RANK / LOCAL_RANK).")
    record.add_argument("-o", "--output", required=True, help="the recording to write (JSON)")
    record.add_argument("--max-steps", type=int, default=None,
                        help="stop the script after N optimizer steps (loopdiff raises its own exception from the "
                             "step hook to end the run)")
    record.add_argument("--snapshot-mb", type=float, default=recording.DEFAULT_SNAPSHOT_MB,
                        help="memory for parameter snapshots, in MiB (float32 copies after every step; default "
                             "%(default)g); past it, only digests are kept")
    record.add_argument("script", help="the training script")
    record.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    diff = commands.add_parser(
        "diff", help="compare two recordings step by step",
        description="Say whether two recordings are identical at every optimizer step or where they part, and show "
                    "their calls aligned around that step. Exit code: 0 identical, 1 within --tolerance, "
                    "2 different, 3 unusable input.")
    diff.add_argument("a", help="the first recording")
    diff.add_argument("b", help="the second recording")
    diff.add_argument("--tolerance", type=float, default=0.0,
                      help="largest parameter difference still called within tolerance (exit 1; default 0)")
    diff.add_argument("--context", type=int, default=3, help="rows of the traces shown around the step (default 3)")
    return main_parser


def _error(text: str) -> int:
    print(f"loopdiff: error: {text}", file=sys.stderr)
    return UNUSABLE


def main(argv: list[str] | None = None) -> int:
    """Run ``loopdiff`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    args = parser().parse_args(argv)
    if args.command == "record":
        try:
            return recording.record(args.script, args.args, args.output, args.max_steps, args.snapshot_mb)
        except recording.RecordingError as error:
            return _error(str(error))
    if args.tolerance < 0 or args.context < 0:
        return _error("--tolerance and --context cannot be negative")
    try:
        a, b = comparing.load(args.a), comparing.load(args.b)
        result = comparing.compare(a, b, args.tolerance, (args.a, args.b))
        text = comparing.report(result, args.context)
    except comparing.UnusableInput as error:
        return _error(str(error))
    print(text)
    return result.exit_code
