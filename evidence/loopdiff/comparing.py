"""``loopdiff diff``: two recordings compared optimizer step by optimizer step.

The parameters of the two runs are matched first (`match_parameters`): by name, after removing
what wrappers put before a name (``_forward_module.``, ``_orig_mod.``, ``module.``) and what every
name of one run starts with (``model.`` of a LightningModule holding the network), as the site
matches state dicts (`evidence.running.measure.aligned`); else, when both runs step as many
parameters of the same shapes in the same order, by order. Otherwise the recordings are of
different models and there is nothing to compare.

Then every step (`compare`): the same digest means the same parameters, bit for bit; where the
digests differ (or cannot be compared, because the names matched in another order), the
snapshots say by how much, as the largest absolute difference of any matched parameter. The
first step that is not identical is where the runs *part*. The verdict, and ``diff``'s exit
code (`EXIT_CODES`): identical at every step and as many steps (0); every step within
``--tolerance`` (1); different (2). A step without snapshots in both files (past ``--snapshot-mb``)
whose digests differ counts as different: how much it differs is unknown.

The traces are shown as the site's pages show them (`evidence.views.trace`): calls folded into
rows (``×13`` for a cycle of calls repeated 13 times), the two runs aligned row by row on their
optimizer steps (`align`), the rows whose calls differ marked; `trace_lines` shows the rows
around the parting step, from the last differing row before it (usually the cause) to a few
rows after.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from evidence.loopdiff.recording import FORMAT, VERSION, decode

EXIT_CODES = {"identical": 0, "within tolerance": 1, "different": 2, "unusable": 3}
"""``loopdiff diff``'s exit code for each verdict, and for input it cannot use."""

LOSSLESS = ("torch.float32", "torch.bfloat16", "torch.float16")
"""Parameter dtypes whose float32 snapshots are exact (equal snapshots: equal parameters)."""

COLUMN_WIDTH = 46
"""Characters of one run's column in the aligned traces (longer lines are cut with an ellipsis)."""


class UnusableInput(Exception):
    """A recording that cannot be compared, in one line: corrupt, foreign, empty, or of another model."""


# -- reading ------------------------------------------------------------------------------------

_REQUIRED = {"script": str, "argv": list, "events": list, "ledger": list, "optimizers": list, "snapshots": dict}


def load(path: str) -> dict:
    """A recording written by ``loopdiff record``, checked enough to compare it.

    Raises:
        UnusableInput: the file cannot be read, is not JSON, is not a loopdiff recording (of this
            version), is damaged, or records no optimizer step.
    """
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise UnusableInput(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise UnusableInput(f"{path} is not JSON (corrupt or truncated?): {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UnusableInput(f"{path} is not a loopdiff recording (it has no \"format\": \"{FORMAT}\"; "
                            "make one with `loopdiff record -o FILE SCRIPT`)")
    if data.get("version") != VERSION:
        raise UnusableInput(f"{path} is a loopdiff recording of version {data.get('version')!r}; "
                            f"this loopdiff reads version {VERSION}")
    for key, kind in _REQUIRED.items():
        if not isinstance(data.get(key), kind):
            raise UnusableInput(f"{path} is a damaged loopdiff recording: {key!r} is missing or not a "
                                f"{kind.__name__}")
    if not data["ledger"]:
        raise UnusableInput(f"{path} records no optimizer step")
    try:
        for step, line in enumerate(data["ledger"], start=1):
            if line["step"] != step or not isinstance(line["digest"], str):
                raise ValueError(f"ledger line {step}")
            if not 0 <= line.get("optimizer", 0) < len(data["optimizers"]):
                raise ValueError(f"ledger line {step} names no recorded optimizer")
        for optimizer in data["optimizers"]:
            for parameter in optimizer["parameters"]:
                if not isinstance(parameter["name"], str) or not all(isinstance(n, int) for n in parameter["shape"]):
                    raise ValueError("a parameter without a name or shape")
        if not isinstance(data["snapshots"].get("data"), list):
            raise ValueError("snapshots.data")
        for event in data["events"]:
            if not isinstance(event.get("op"), str):
                raise ValueError("a call without its op")
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UnusableInput(f"{path} is a damaged loopdiff recording: {error}") from None
    return data


# -- matching -----------------------------------------------------------------------------------

@dataclass
class Match:
    """How the parameters of one optimizer of run A pair with run B's.

    Attributes:
        pairs: ``(index in A, index in B)`` for every parameter, in A's order.
        how: the rule that matched, in words (shown by ``diff``).
        names: the name shown for each pair (A's, without the removed prefixes).
    """

    pairs: list[tuple[int, int]]
    how: str
    names: list[str]

    @property
    def in_order(self) -> bool:
        """Every parameter pairs with the one at the same place: the digests are comparable."""
        return all(i == j for i, j in self.pairs)


def _removed(names: list[str]) -> tuple[str, bool]:
    """What the name matching removes from these names: their common holder prefix, and
    whether wrapper prefixes were removed too."""
    from evidence.running.measure import _common_prefix
    from evidence.running.trace import _unwrapped

    prefix = _common_prefix(names) if len(names) > 1 else ""
    return prefix, any(_unwrapped(n[len(prefix):]) != n[len(prefix):] for n in names)


def match_parameters(a: list[dict], b: list[dict], labels: tuple[str, str] = ("A", "B")) -> Match:
    """Pair the parameters of two runs (each ``[{"name", "shape"}, ...]``), by name, else by order.

    Raises:
        UnusableInput: neither rule pairs every parameter: two different models.
    """
    from evidence.running.measure import aligned
    from evidence.running.trace import _unwrapped

    names_a, names_b = [p["name"] for p in a], [p["name"] for p in b]
    shapes_a, shapes_b = [list(p["shape"]) for p in a], [list(p["shape"]) for p in b]
    pairs = None
    if len(set(names_a)) == len(a) and len(set(names_b)) == len(b):
        pairs = aligned({n: i for i, n in enumerate(names_a)}, {n: j for j, n in enumerate(names_b)})
    if pairs is not None and all(shapes_a[i] == shapes_b[j] for i, j in pairs):
        prefix_a, wrapped_a = _removed(names_a)
        shown = [_unwrapped(names_a[i][len(prefix_a):]) for i, _ in pairs]
        removed = []
        for label, names in zip(labels, (names_a, names_b)):
            prefix, wrapped = _removed(names)
            if prefix:
                removed.append(f"{prefix!r} from {label}'s names")
            if wrapped:
                removed.append(f"wrapper prefixes from {label}'s names")
        how = f"by name ({len(pairs)} parameters)" + (f", after removing {' and '.join(removed)}" if removed else "")
        if not any(i != j for i, j in pairs) and all(n.startswith("parameter ") for n in names_a):
            how = f"by order ({len(pairs)} parameters the recorder could not name)"
        return Match(list(pairs), how, shown)
    if len(a) == len(b) and shapes_a == shapes_b:
        differing = next((i for i in range(len(a)) if _unwrapped(names_a[i]) != _unwrapped(names_b[i])), 0)
        how = (f"by order and shape ({len(a)} parameters; the names differ, e.g. {names_a[differing]!r} "
               f"against {names_b[differing]!r})")
        return Match([(i, i) for i in range(len(a))], how, names_a)

    def size(shapes):
        return sum(math.prod(s) for s in shapes)

    raise UnusableInput(f"{labels[0]} and {labels[1]} record different models: {len(a)} parameters "
                        f"({size(shapes_a)} values) against {len(b)} ({size(shapes_b)} values), and neither their "
                        "names nor their shapes in order match")


# -- comparing ----------------------------------------------------------------------------------

@dataclass
class Step:
    """One optimizer step compared: the largest difference of any matched parameter, and which.

    ``value`` is 0.0 for identical parameters and NaN where no snapshot says by how much;
    ``bitwise`` tells whether the parameters are equal bit for bit.
    """

    step: int
    value: float
    tensor: str
    bitwise: bool
    note: str = ""


@dataclass
class Comparison:
    """Two recordings compared: the verdict, where the runs part and by how much.

    Attributes:
        labels: the two files as named on the command line.
        recordings: the two recordings (from `load`).
        steps: each run's number of optimizer steps.
        matches: how each optimizer's parameters were matched.
        parted: the first step that is not identical, or None.
        largest: the step with the largest known difference, or None.
        unknown: steps whose digests differ and for which no snapshot says by how much.
        tolerance: the largest difference still called within tolerance.
        verdict: ``identical``, ``within tolerance`` or ``different`` (`EXIT_CODES`).
        notes: what else the report says about the verdict (steps past the snapshots).
    """

    labels: tuple[str, str]
    recordings: tuple[dict, dict]
    steps: tuple[int, int]
    matches: list[Match]
    parted: Step | None
    largest: Step | None
    unknown: list[int]
    tolerance: float
    verdict: str
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """``diff``'s exit code for this verdict."""
        return EXIT_CODES[self.verdict]


def _step_difference(k: int, a: dict, b: dict, matches: list[Match], labels: tuple[str, str]) -> Step:
    line_a, line_b = a["ledger"][k - 1], b["ledger"][k - 1]
    oa, ob = line_a.get("optimizer", 0), line_b.get("optimizer", 0)
    if oa != ob:
        return Step(k, math.inf, "(optimizer)", False,
                    f"{labels[0]} stepped its optimizer {oa + 1} ({a['optimizers'][oa]['class']}), "
                    f"{labels[1]} its optimizer {ob + 1} ({b['optimizers'][ob]['class']})")
    match = matches[oa]
    same_digest = match.in_order and line_a["digest"] == line_b["digest"]
    if same_digest:
        return Step(k, 0.0, "", True)
    snaps_a, snaps_b = a["snapshots"]["data"], b["snapshots"]["data"]
    if k > len(snaps_a) or k > len(snaps_b):
        return Step(k, math.nan, "(parameters)", False, "no snapshot of this step (past --snapshot-mb)")
    params_a, params_b = a["optimizers"][oa]["parameters"], b["optimizers"][ob]["parameters"]
    worst, worst_name = -1.0, ""
    for (i, j), name in zip(match.pairs, match.names):
        try:
            x = decode(snaps_a[k - 1][i], params_a[i]["shape"])
            y = decode(snaps_b[k - 1][j], params_b[j]["shape"])
        except (ValueError, IndexError, TypeError) as error:
            raise UnusableInput(f"the snapshot of step {k} is damaged in {labels[0]} or {labels[1]}: {error}") from None
        value = float(abs(x - y).max()) if x.size else 0.0
        if value > worst:
            worst, worst_name = value, name
    exact = all(p["dtype"] in LOSSLESS for p in (*params_a, *params_b))  # float32 snapshots hold them whole
    bitwise = worst == 0.0 and not match.in_order and exact  # equal snapshots, digests not comparable
    note = "" if worst > 0 or bitwise else "the digests differ by less than float32 snapshots show"
    return Step(k, worst, worst_name, bitwise, note)


def compare(a: dict, b: dict, tolerance: float = 0.0, labels: tuple[str, str] = ("A", "B")) -> Comparison:
    """Compare two recordings (from `load`) step by step.

    Args:
        a: the first recording.
        b: the second recording.
        tolerance: the largest difference still called within tolerance (exit code 1).
        labels: how the output names the two (their file names).

    Raises:
        UnusableInput: the two record different models (or a damaged snapshot).
    """
    if len(a["optimizers"]) != len(b["optimizers"]):
        raise UnusableInput(f"{labels[0]} steps {len(a['optimizers'])} set(s) of parameters and {labels[1]} "
                            f"{len(b['optimizers'])}: different models or optimizers, nothing to compare step by step")
    matches = [match_parameters(x["parameters"], y["parameters"], labels)
               for x, y in zip(a["optimizers"], b["optimizers"])]
    na, nb = len(a["ledger"]), len(b["ledger"])
    parted = largest = None
    unknown = []
    for k in range(1, min(na, nb) + 1):
        step = _step_difference(k, a, b, matches, labels)
        if math.isnan(step.value):
            unknown.append(k)
        elif largest is None or step.value > largest.value:
            largest = step
        if parted is None and not step.bitwise:
            parted = step
    if na != nb and parted is None:
        parted = Step(min(na, nb) + 1, math.inf, "(steps)", False,
                      f"{labels[0]} took {na} optimizer steps and {labels[1]} {nb}")
    if parted is None:
        verdict = "identical"
    elif na == nb and not unknown and largest is not None and largest.value <= tolerance:
        verdict = "within tolerance"
    else:
        verdict = "different"
    notes = []
    if unknown:
        notes.append(f"{len(unknown)} step(s) from step {unknown[0]} on differ by digest but have no snapshot in "
                     "both files (past --snapshot-mb), so by how much is unknown; they count as different")
    return Comparison(labels, (a, b), (na, nb), matches, parted, largest, unknown, float(tolerance), verdict, notes)


# -- the traces ---------------------------------------------------------------------------------

def align(events_a: list[dict], events_b: list[dict]) -> list[dict]:
    """Two traces folded into rows (`evidence.views.trace.rows`) and aligned on their optimizer steps.

    As the site's pages align traces (`evidence.views.trace.aligned`: a diff of the rows' calls),
    except that a row holding optimizer steps is keyed by the steps it holds too, so that the
    rows of step 14 are paired with each other whatever comes before them (a sanity-check
    validation in one run only does not shift the pairing by an epoch), and rows that differ are
    ordered by the step they come before, two holding the same steps on one line. Returns, in order,
    ``{"a": cell, "b": cell, "steps": {side: (first, count)}, "same": bool}`` where a cell is
    ``(calls, times)`` or None for a row with no counterpart.
    """
    import difflib

    from evidence.views.trace import _fold, label

    folded, keys, steps = {}, {}, {}
    for side, events in (("a", events_a), ("b", events_b)):
        folded[side] = _fold(events, label)
        keys[side], steps[side], first = [], [], 1
        for cycle, times in folded[side]:
            count = sum(e["op"] == "optimizer.step" for e in cycle) * times
            steps[side].append((first, count))
            keys[side].append((tuple(label(e) for e in cycle), times, (first, count) if count else None))
            first += count
    out = []

    def add(i: int | None, j: int | None) -> None:
        row = {"a": None if i is None else folded["a"][i], "b": None if j is None else folded["b"][j], "steps": {}}
        if i is not None:
            row["steps"]["a"] = steps["a"][i]
        if j is not None:
            row["steps"]["b"] = steps["b"][j]
        row["same"] = i is not None and j is not None and keys["a"][i] == keys["b"][j]
        out.append(row)

    matcher = difflib.SequenceMatcher(a=keys["a"], b=keys["b"], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(i2 - i1):
                add(i1 + offset, j1 + offset)
            continue
        # rows that differ: ordered by the steps they come before, a row of each run holding the
        # same steps on one line; rows without steps before the next step, the first run's first
        i, j = i1, j1
        while i < i2 or j < j2:
            while i < i2 and not steps["a"][i][1]:
                add(i, None)
                i += 1
            while j < j2 and not steps["b"][j][1]:
                add(None, j)
                j += 1
            if i < i2 and j < j2 and steps["a"][i][0] == steps["b"][j][0]:
                add(i, j)
                i, j = i + 1, j + 1
            elif i < i2 and (j >= j2 or steps["a"][i][0] < steps["b"][j][0]):
                add(i, None)
                i += 1
            elif j < j2:
                add(None, j)
                j += 1
    return out


def _cell_lines(cell, first: int, steps: int) -> list[str]:
    from evidence.views.trace import _who, label

    if cell is None:
        return ["–"]
    cycle, times = cell
    head = []
    if times > 1:
        head.append(f"×{times}")
    if steps:
        head.append(f"step {first}" if steps == 1 else f"steps {first}–{first + steps - 1}")
    lines = [", ".join(head) + ":"] if head else []
    lines += [("  " if head else "") + label(e) for e in cycle]
    who = _who(cycle)
    if who:
        lines.append(("  " if head else "") + f"by {who}")
    return lines


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


MAX_ROWS = 40
"""Rows of the aligned traces shown at most (the rest are counted)."""


def trace_lines(comparison: Comparison, context: int = 3, width: int = COLUMN_WIDTH) -> list[str]:
    """The two traces folded and aligned (`align`) as lines of text; ``!`` marks differing rows.

    Where the runs part: from ``context`` rows before the last differing row at or before the
    parting step (usually the cause) to ``context`` rows after the row holding that step (with
    ``context`` rows around each of the two where they are far apart). Where they do not: the
    rows around every row whose calls differ. At most `MAX_ROWS` rows.
    """
    a, b = comparison.recordings
    rows = align(a["events"], b["events"])
    differing = [i for i, row in enumerate(rows) if not row["same"]]
    if comparison.parted is not None:
        k = comparison.parted.step
        anchors = [i for i, row in enumerate(rows)
                   if any(first <= k < first + count for first, count in row["steps"].values())] or [len(rows) - 1]
        centres = {max((i for i in differing if i <= anchors[0]), default=anchors[0]), *anchors}
    elif differing:
        centres = set(differing)
    else:
        return []
    shown = sorted({i for centre in centres for i in range(centre - context, centre + context + 1)
                    if 0 <= i < len(rows)})[:MAX_ROWS]
    label_a, label_b = (_fit(x, width) for x in comparison.labels)
    out = [f"  {label_a:<{width}} | {label_b}", f"  {'-' * width} | {'-' * width}"]

    def skipped(part: list[dict], where: str) -> str:
        return f"  … {len(part)} row(s) {where}, {sum(not r['same'] for r in part)} of them differing"

    previous = -1
    for i in shown:
        if i > previous + 1:
            out.append(skipped(rows[previous + 1:i], "before" if previous < 0 else "between"))
        row = rows[i]
        left = _cell_lines(row["a"], *row["steps"].get("a", (0, 0)))
        right = _cell_lines(row["b"], *row["steps"].get("b", (0, 0)))
        for n in range(max(len(left), len(right))):
            mark = "!" if (n == 0 and not row["same"]) else " "
            x = _fit(left[n], width) if n < len(left) else ""
            y = _fit(right[n], width) if n < len(right) else ""
            out.append(f"{mark} {x:<{width}} | {y}".rstrip())
        previous = i
    if previous < len(rows) - 1:
        out.append(skipped(rows[previous + 1:], "after"))
    return out


# -- the report ---------------------------------------------------------------------------------

def _number(value: float) -> str:
    if math.isnan(value):
        return "unknown"
    if math.isinf(value):
        return "not comparable"
    return "0" if value == 0 else f"{value:.3g}"


def _loss(value) -> str:
    return "–" if value is None else f"{value:.6g}"


def _described(label: str, recording: dict, steps: int) -> str:
    command = " ".join([Path(recording["script"]).name, *recording["argv"]])
    return f"{label}: {command} ({steps} optimizer steps; {recording.get('stopped', 'ran')})"


def report(comparison: Comparison, context: int = 3) -> str:
    """What ``loopdiff diff`` prints: the two runs, how their parameters matched, the verdict,
    where they part and by how much, and the aligned traces around that step."""
    (a, b), (label_a, label_b) = comparison.recordings, comparison.labels
    lines = [_described(label_a, a, comparison.steps[0]), _described(label_b, b, comparison.steps[1])]
    for index, match in enumerate(comparison.matches):
        which = f"optimizer {index + 1}'s parameters" if len(comparison.matches) > 1 else "parameters"
        lines.append(f"{which} matched {match.how}")
    parted, largest = comparison.parted, comparison.largest
    if parted is None:
        lines.append(f"IDENTICAL: the parameters are the same, bit for bit, after every one of the "
                     f"{comparison.steps[0]} optimizer steps.")
    else:
        total = max(comparison.steps)
        lines.append(f"PARTED at optimizer step {parted.step} of {total}: the first step after which the parameters "
                     "differ.")
        if parted.tensor in ("(steps)", "(optimizer)"):
            lines.append(f"  {parted.note}.")
        else:
            lines.append(f"  the parameter that differs most there: {parted.tensor or '(unknown)'}, "
                         f"max |a - b| = {_number(parted.value)}" + (f" ({parted.note})" if parted.note else ""))
        if parted.step <= min(comparison.steps):
            loss_a, loss_b = a["ledger"][parted.step - 1]["loss"], b["ledger"][parted.step - 1]["loss"]
            lines.append(f"  loss of that step's last backward: {_loss(loss_a)} against {_loss(loss_b)}")
            later = next((line_a["step"] for line_a, line_b in zip(a["ledger"], b["ledger"])
                          if line_a["step"] > parted.step and line_a["loss"] != line_b["loss"]), None)
            if later is not None and loss_a == loss_b:
                lines.append(f"  the losses first differ at step {later}: {_loss(a['ledger'][later - 1]['loss'])} "
                             f"against {_loss(b['ledger'][later - 1]['loss'])}")
        if largest is not None and largest.value > 0:
            lines.append(f"  the largest difference over the steps both took: {_number(largest.value)} "
                         f"(step {largest.step}, {largest.tensor})")
        for note in comparison.notes:
            lines.append(f"  {note}.")
    code = comparison.exit_code
    if comparison.verdict == "within tolerance":
        lines.append(f"verdict: within tolerance {comparison.tolerance:g} at every step (exit {code})")
    elif comparison.verdict == "different":
        lines.append(f"verdict: different (beyond --tolerance {comparison.tolerance:g}; exit {code})")
    else:
        lines.append(f"verdict: identical (exit {code})")
    trace = trace_lines(comparison, context)
    if trace:
        lines.append("")
        if parted is not None:
            lines.append(f"The calls, folded and aligned around step {parted.step} (! marks rows whose calls differ; "
                         "×n: repeated n times in a row; the last ! row before the step is the likely cause):")
        else:
            lines.append("The calls differ all the same, without changing the parameters (! marks rows whose calls "
                         "differ; ×n: repeated n times in a row):")
        lines += trace
    elif comparison.recordings[0]["events"]:
        lines += ["", "The calls are the same too, row for row."]
    return "\n".join(lines)
