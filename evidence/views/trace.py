"""Views of the recorded call traces (`evidence.running.trace`) and the parity ledger.

A trace is long (every forward, backward, zero_grad and step of every batch), so it is shown
compressed: identical calls in a row become one line with a count, a repeating cycle of calls
(the steps of an epoch) becomes one row with a count, and rows that repeat as a whole (the
epochs) are shown once with how many times they repeat. The three implementations' rows are
aligned on plain PyTorch's; a row where they differ is marked.
"""

from __future__ import annotations

import difflib
import json

from evidence.programs import LABELS
from evidence.views import Code, Em, Html, Lines, Link, Strong, admonition, difference, table

MAX_CYCLE = 8
"""Longest cycle of calls folded into one row (forward, zero_grad, backward, step: 4)."""

MAX_ROWS = 40
"""Rows shown before the table says how many more there are."""


def label(event: dict) -> str:
    """One call as a reader reads it, by its role ("model", "optimizer"), whatever the classes:
    a Fabric-wrapped module and a LightningModule are the model too."""
    op = event["op"]
    if op == "forward":
        text = f"forward, {event.get('mode')} mode"
    elif op in ("train", "eval"):
        text = f"model.{op}()"
    elif op == "optimizer.step":
        text = "optimizer.step()"
    elif op == "zero_grad":
        text = "model.zero_grad()" if "module" in event else "optimizer.zero_grad()"
    elif op == "clip_grad":
        text = f"clip_grad_{event.get('kind')}_({event.get('limit')})"
    elif op == "scheduler.step":
        text = f"{event.get('scheduler')}.step()"
    else:
        text = op
    if event.get("grad") != "grad" and op in ("forward", "backward"):
        text += f", {event['grad']}"
    return text


def _fold(items: list, key) -> list[tuple[list, int]]:
    """Fold repeats: ``[(cycle, count), ...]``, preferring the cycle that covers the most items."""
    out, i = [], 0
    keys = [key(x) for x in items]
    while i < len(items):
        best_length, best_count = 1, 1
        for length in range(1, MAX_CYCLE + 1):
            count = 1
            while keys[i + count * length:i + (count + 1) * length] == keys[i:i + length] \
                    and i + (count + 1) * length <= len(items):
                count += 1
            if count > 1 and length * count > best_length * best_count:
                best_length, best_count = length, count
        out.append((items[i:i + best_length], best_count))
        i += best_length * best_count
    return out


def rows(events: list[dict]) -> list[tuple[tuple[str, ...], int]]:
    """A trace folded into rows: ``((label, label, ...), times)``."""
    return [(tuple(label(e) for e in cycle), count) for cycle, count in _fold(events, label)]


def _who(events: list[dict]) -> str:
    """Who made the calls of a row: the program's function, and the framework's nearest one."""
    seen = []
    for e in events:
        who = e.get("by") or ""
        if e.get("via"):
            who += f" ← {e['via'].rsplit('.', 2)[-2]}.{e['via'].rsplit('.', 1)[-1]}"
        if who and who not in seen:
            seen.append(who)
    return "; ".join(seen)


def aligned(traces: dict[str, list[dict]]) -> list[dict]:
    """Rows of every implementation aligned on the first (plain PyTorch)'s, with a ``same`` flag.

    Each other implementation is matched to the first with a diff of the rows' calls (counts
    aside); only equal rows share a line, and rows with no counterpart get lines of their own,
    after the reference's rows they replace.
    """
    kinds = list(traces)
    reference = kinds[0]
    folded = {k: _fold(traces[k], label) for k in kinds}
    keys = {k: [tuple(label(e) for e in cycle) for cycle, _ in folded[k]] for k in kinds}
    match: dict[str, dict[int, int]] = {}
    inserted: dict[str, dict[int, list[int]]] = {}
    for kind in kinds[1:]:
        pairs, extra = {}, {}
        matcher = difflib.SequenceMatcher(a=keys[reference], b=keys[kind], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                pairs.update({i1 + o: j1 + o for o in range(i2 - i1)})
            elif j2 > j1:  # rows of this implementation with no counterpart: after the reference's
                extra.setdefault(i2, []).extend(range(j1, j2))
        match[kind], inserted[kind] = pairs, extra
    out = []
    for i in range(len(keys[reference]) + 1):
        for kind in kinds[1:]:
            for j in inserted[kind].get(i, []):
                out.append({k: (folded[k][j] if k == kind else None) for k in kinds})
        if i < len(keys[reference]):
            row = {reference: folded[reference][i]}
            row.update({k: folded[k][match[k][i]] if i in match[k] else None for k in kinds[1:]})
            out.append(row)
    return [{"cells": row, "same": all(c is not None for c in row.values())
             and len({(tuple(label(e) for e in c[0]), c[1]) for c in row.values()}) == 1} for row in out]


def _cell(entry, who: bool = True) -> Lines | str:
    if entry is None:
        return "–"
    cycle, count = entry
    lines = [label(e) for e in cycle]
    if count > 1:
        lines[0] = f"×{count}: " + lines[0]
    callers = _who(cycle) if who else ""
    return Lines([*lines, Code(callers)] if callers else lines)


def trace_table(result) -> Html:
    """The implementations' recorded calls, folded and aligned; rows that differ are marked."""
    traces = {kind: impl["trace"]["events"] for kind, impl in result.implementations.items() if "trace" in impl}
    if not traces and not result.run.in_process:
        return admonition("note", "No recorded calls", "These programs train in processes of their own (one "
                          "per rank, started by each program), and no rank 0 running the program was found to "
                          "record (evidence.running.rank_trace records a rank 0 started by torchrun).")
    if not traces:
        return admonition("note", "No recorded calls", "This run was not recorded call by call "
                          "(only a topic's headline run is).")
    if not any(traces.values()):
        return admonition("note", "No calls recorded in this process",
                          "The programs run their training in processes of their own (ranks), which the "
                          "recorder in the worker does not see.")
    lines = aligned(traces)
    differing = sum(not line["same"] for line in lines)

    def key(line):
        return tuple(None if c is None else (tuple(label(e) for e in c[0]), c[1]) for c in line["cells"].values())

    body, shown = [], 0
    for group, times in _fold(lines, key):
        if shown >= MAX_ROWS:
            break
        if times > 1:
            body.append([Em(f"the {len(group)} row(s) below, {times} times in a row"), *([""] * len(traces))])
        for line in group:
            body.append([Strong("differs") if not line["same"] else "", *(_cell(line["cells"][k]) for k in traces)])
            shown += 1
    total = sum(len(g) for g, _ in _fold(lines, key))
    ranks = any(impl["trace"].get("rank") == 0 for impl in result.implementations.values() if "trace" in impl)
    where = (" in rank 0's process (the programs start their ranks as processes of their own; every rank takes "
             "the same optimizer steps on the same weights, and only rank 0 prints, logs and saves)" if ranks else "")
    caption = (f"Calls recorded{where} while the programs ran (a recorded pass of the headline run, untimed), folded: "
               f"×n marks a call or cycle of calls repeated n times in a row, and repeated groups of rows are "
               f"shown once. {differing} of {len(lines)} rows differ between the implementations"
               + (f"; the first {shown} of {total} folded rows are shown." if shown < total else ".")
               + " Under each row: the program's function that made the calls ← the framework's nearest function.")
    download = Link("Every recorded call of every implementation, unfolded (JSON)",
                    "../../../../" + trace_uri(result.topic))
    return Html(table(["difference", *(LABELS[k] for k in traces)], body, caption=caption)
                + f'<p class="trace-download">{download.html()}</p>')


def trace_uri(topic: str) -> str:
    """Where the site publishes a topic's full recorded trace (`evidence.hooks.content` writes it)."""
    return f"downloads/{topic}/trace.json"


def full_trace(report: dict) -> dict:
    """The recorded calls and parity ledger of every implementation of a run, as published."""
    return {"topic": report["topic"], "run": report["run"],
            "implementations": {kind: impl["trace"] for kind, impl in report.get("implementations", {}).items()
                                if "trace" in impl}}


def ledger_line(result) -> Html:
    """The parity ledger's verdict: identical at every step, or the first step where runs part."""
    ledger = (result.parity_data or {}).get("ledger")
    if not ledger:
        return Html("")
    first = ledger.get("first_divergence")
    if first is None:
        return admonition("success", f"Parity ledger: identical at every one of {ledger['steps']} optimizer steps",
                          "After every optimizer step, the parameters of every implementation hashed to the same "
                          "digest as plain PyTorch's.")
    pair = first.get("pair", ["pytorch", "?"])
    return admonition("info", f"Parity ledger: the runs part at optimizer step {first['step']} of {ledger['steps']}",
                      [f"{LABELS.get(pair[1], pair[1])} against {LABELS.get(pair[0], pair[0])}: the tensor that "
                       "differs most there is ", Code(first["tensor"]), f", by {difference(first['value'])}."
                       + (f" {first['note']}." if first.get("note") else "")])


def downloadable(result) -> str:
    """The whole recorded trace and ledger of every implementation, as JSON text."""
    return json.dumps({kind: impl.get("trace") for kind, impl in result.implementations.items()}, indent=1)


def first_epoch(events: list[dict]) -> list[dict]:
    """The calls up to the end of the first epoch's validation: everything before the first
    training-mode forward that follows a validation that follows training (a sanity-check
    validation before any training stays in)."""
    seen_train = seen_eval = False
    for index, event in enumerate(events):
        training = event["op"] == "forward" and event.get("mode") == "train"
        if event["op"] == "forward" and event.get("mode") == "eval" and seen_train:
            seen_eval = True
        elif seen_eval and (training or event["op"] == "train"):
            return events[:index]
        seen_train = seen_train or training
    return events


def trainer_epoch(result) -> Html:
    """Every call the Trainer made in one epoch, each beside the plain program's lines that do the
    same; a call on one side only is marked.

    Args:
        result: a recorded run with plain PyTorch and Lightning programs (the minimal loop's headline).
    """
    from evidence.programs import programs

    source_lines = {p.kind: p.source.splitlines() for p in programs(result.topic)}
    traces = {k: first_epoch(i["trace"]["events"]) for k, i in result.implementations.items()
              if k in ("pytorch", "lightning")}
    lines = aligned(traces)
    body = []
    for line in lines:
        plain, lightning = line["cells"]["pytorch"], line["cells"]["lightning"]
        quoted = []
        if plain is not None:
            numbers = sorted({e["line"] for e in plain[0] if e.get("line")})
            quoted = [Code(f"{n}: {source_lines['pytorch'][n - 1].strip()}") for n in numbers]
        framework = []
        if lightning is not None:
            for event in lightning[0]:
                where = event.get("via") or "your code"
                framework.append(Code(where.replace("pytorch_lightning.", "")))
        body.append([_cell(lightning, who=False) if lightning else Strong("not called"),
                     Lines(dict.fromkeys(framework)) if framework else "–",
                     Lines(quoted) if quoted else Strong("nothing: the plain loop does not do this"),
                     "" if line["same"] else Strong("differs")])
    return table(["what the Trainer did (first epoch)", "inside Lightning", "the plain program's lines", ""], body,
                 caption="Recorded while the minimal loop's programs ran: the Lightning program's calls in its "
                         "first epoch, folded as in the traces on the topic pages, beside the plain program's "
                         "lines that made the same calls.")
