"""Views of the page "The command line" (``gallery/topics/28_cli``).

Every program writes a config file with the run's settings (``config_given``), runs its command
line from that file with the learning rate overridden on the command line (``command``), prints
the resolved config (``print_command``, output in ``config_printed``; LightningCLI also saves it
as ``config.yaml``, in ``config_saved``), runs again from the resolved config
(``rerun_command``) and returns the largest difference between the two runs' weights
(``reproduced_difference``) and the values the resolved config holds (``resolved``).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, difference, paragraph, table
from evidence.views.code import highlighted

if TYPE_CHECKING:
    from evidence.results import RunResult

LANGUAGE = {"pytorch": "json", "lightning": "yaml", "fabric": "json"}
"""The format of each program's config files."""


def commands_table(result: RunResult) -> Html:
    """What a user of each style types, and whether the rerun from the resolved config gave the same weights.

    Args:
        result: the topic's headline run.

    Returns:
        A table with one row per implementation.
    """
    rows = [[LABELS[kind], Code(result.value(kind, "command")), Code(result.value(kind, "print_command")),
             Code(result.value(kind, "rerun_command")),
             f"{difference(result.value(kind, 'reproduced_difference'))}"
             f" ({'bitwise the same' if result.value(kind, 'reproduced_difference') == 0 else 'different'})"]
            for kind in result.kinds()]
    return table(["implementation", "a run from a config file, one value overridden", "print the resolved config",
                  "the same run again", "max |difference| of the weights"], rows)


def resolved_table(result: RunResult) -> Html:
    """The values each resolved config holds: the file's, with the command line's override.

    Args:
        result: the topic's headline run.

    Returns:
        A table with one row per implementation and one column per setting.
    """
    keys = list(result.value(result.kinds()[0], "resolved"))
    rows = [[LABELS[kind]] + [result.value(kind, "resolved")[key] for key in keys] for kind in result.kinds()]
    return table(["implementation"] + keys, rows)


def _block(title: str, text: str, language: str, folded: bool = False) -> str:
    summary = f"<summary>{html.escape(title)}</summary>" if folded else f"<p>{html.escape(title)}</p>"
    body = highlighted(text.rstrip("\n"), language)
    return f"<details>{summary}{body}</details>" if folded else summary + body


def configs(result: RunResult, kind: str) -> Html:
    """One program's config file and the resolved config it printed, as code blocks.

    Args:
        result: the topic's headline run.
        kind: the implementation.

    Returns:
        The file given and the printed config; a printed config longer than 20 lines is folded.
    """
    given, printed = result.value(kind, "config_given"), result.value(kind, "config_printed")
    lines = printed.count("\n")
    return Html(_block(f"{LABELS[kind]}: the config file given", given, LANGUAGE[kind])
                + _block(f"{LABELS[kind]}: the resolved config it printed ({lines} lines)", printed, LANGUAGE[kind],
                         folded=lines > 20))


def size_sentence(result: RunResult) -> Html:
    """How much each resolved config holds, counted from the printed text.

    Args:
        result: the topic's headline run.

    Returns:
        A paragraph: the number of settings each printed config names, and how many of
        LightningCLI's are Trainer arguments.
    """
    counts = {}
    for kind in result.kinds():
        text = result.value(kind, "config_printed")
        if LANGUAGE[kind] == "json":
            counts[kind] = sum(1 for line in text.splitlines() if line.startswith('  "'))
        else:
            counts[kind] = sum(1 for line in text.splitlines() if ":" in line and not line.rstrip().endswith(":")
                               and not line.startswith("#"))
    trainer = result.value("lightning", "config_printed").split("trainer:\n", 1)[1].split("\nmodel:", 1)[0]
    trainer_count = sum(1 for line in trainer.splitlines() if line.startswith("  ") and ":" in line)
    return paragraph("Settings in each resolved config: "
                     + ", ".join(f"{LABELS[k]} {counts[k]}" for k in result.kinds())
                     + f". {trainer_count} of LightningCLI's are arguments of the ", Code("Trainer"), ", every one of "
                     "them an option on the command line (", Code("--trainer.<name>"), ") without a line written for "
                     "it; the plain and Fabric programs have the options they declare.")
