"""What the harness gathers around a program's run, so that the program holds only its task.

A program's ``run()`` returns what its user would want back: the trained network under
``"model"``, the per-epoch history a plain loop keeps, and the facts its topic is about. The
rest a page shows is gathered here, the same way for every implementation:

- `Watch`, around the logged run: the optimizer steps taken (PyTorch's global step hook), the
  arguments a Lightning program passed to ``Trainer`` (so a page can list the defaults it
  changes) and, for a Lightning program that returns no ``history``, what ``self.log``
  logged, read from ``trainer.callback_metrics`` at the end of every training epoch;
- `normalise`: ``model`` becomes the weights (``state_dict``) and the device;
- readers a topic's ``runs.toml`` names under ``gather`` (`READERS`): what a program wrote
  to disk, such as the checkpoint files in a folder.

Nothing here changes what a program computes: it reads tensors and values, never draws random
numbers, and the timed runs execute the programs with nothing gathered at all.
"""

from __future__ import annotations

import csv
import functools
import inspect
import os
from pathlib import Path


class Watch:
    """Around one call of a program's ``run()``: steps, Trainer arguments and logged epochs.

    Use as a context manager; afterwards ``steps``, ``trainer_kwargs`` (``{name: {value,
    default}}`` of the first Trainer built, ``None`` when none was) and ``history`` (``{name: [per-epoch floats]}``, empty without a Trainer)
    hold what was seen.
    """

    def __init__(self):
        self.steps = 0
        self.trainer_kwargs: dict | None = None
        self.history: dict[str, list[float]] = {}
        self._undo: list = []

    def _count(self, optimizer, args, kwargs) -> None:
        self.steps += 1

    def __enter__(self) -> "Watch":
        from torch.optim import optimizer

        handle = optimizer.register_optimizer_step_post_hook(self._count)
        self._undo.append(handle.remove)
        try:
            import pytorch_lightning as pl
        except ImportError:  # a plain environment: nothing Lightning to watch
            return self
        watch = self
        original = pl.Trainer.__init__

        class EpochMetrics(pl.Callback):
            """Reads what ``self.log`` put in ``callback_metrics`` at each training epoch's end."""

            def on_train_epoch_end(self, trainer, pl_module):
                metrics = trainer.callback_metrics
                for name, value in metrics.items():
                    if "/" in name or name.endswith("_step") or (name.endswith("_epoch") and name[:-6] in metrics):
                        continue  # per-step values, and the epoch twin of a name logged both ways
                    watch.history.setdefault(name, []).append(float(value))

        @functools.wraps(original)  # keeps the signature, which LightningCLI reads to build its parser
        def init(trainer, *args, **kwargs):
            if watch.trainer_kwargs is None:
                defaults = inspect.signature(original).parameters
                watch.trainer_kwargs = {
                    k: {"value": _describe(v),
                        "default": _describe(defaults[k].default) if k in defaults else None}
                    for k, v in kwargs.items()}
            callbacks = kwargs.get("callbacks")
            callbacks = [] if callbacks is None else list(callbacks) if isinstance(callbacks, (list, tuple)) \
                else [callbacks]
            kwargs["callbacks"] = [*callbacks, EpochMetrics()]
            original(trainer, *args, **kwargs)

        pl.Trainer.__init__ = init
        self._undo.append(lambda: setattr(pl.Trainer, "__init__", original))
        return self

    def __exit__(self, *exc) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


def _describe(value):
    """A Trainer argument as JSON: plain values as they are, objects by their class name."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _describe(v) for k, v in value.items()}
    return type(value).__name__


def normalise(result: dict, watch: Watch | None, fallback_device: str) -> dict:
    """A program's result with the harness's values: ``state_dict``, ``steps``, ``device``, ``history``.

    ``model`` (a module) becomes ``state_dict`` (its weights on the CPU) and names the device;
    a Lightning program's ``history`` comes from what it logged when it returns none.
    """
    import torch

    out = dict(result)
    model = out.pop("model", None)
    device = fallback_device
    if isinstance(model, torch.nn.Module):
        out.setdefault("state_dict", {k: v.detach().cpu() for k, v in model.state_dict().items()})
        first = next(iter(model.parameters()), None)
        if first is not None:
            device = str(first.device)
    out.setdefault("device", device)
    if watch is not None:
        out.setdefault("steps", watch.steps)
        if "history" not in out and watch.history:
            out["history"] = watch.history
    return out


def call_arguments(function, kwargs: dict) -> dict:
    """Every argument ``function`` gets for ``kwargs``: the given ones over its defaults."""
    defaults = {name: p.default for name, p in inspect.signature(function).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **kwargs}


# -- readers of what a program wrote -----------------------------------------------------------

def describe_value(value, depth: int = 0) -> dict:
    """One value of a checkpoint: its type, and for tensors and containers their sizes.

    Numbers, booleans, ``None`` and top-level strings keep their ``value``; a dict lists its
    ``keys`` (and ``shapes`` when it holds only tensors, ``items`` one level down at the top).
    """
    import torch

    if isinstance(value, torch.Tensor):
        return {"type": "tensor", "tensors": 1, "tensor_bytes": value.numel() * value.element_size(),
                "shape": list(value.shape)}
    if isinstance(value, dict):
        parts = {str(k): describe_value(v, depth + 1) for k, v in value.items()}
        info = {"type": "dict", "keys": list(parts), "tensors": sum(p["tensors"] for p in parts.values()),
                "tensor_bytes": sum(p["tensor_bytes"] for p in parts.values())}
        if value and all(isinstance(v, torch.Tensor) for v in value.values()):
            info["shapes"] = {k: p["shape"] for k, p in parts.items()}
        if depth == 0:
            info["items"] = {k: p for k, p in parts.items() if p["type"] == "dict"}
        return info
    if isinstance(value, (list, tuple)):
        parts = [describe_value(v, depth + 1) for v in value]
        return {"type": "list", "length": len(value), "tensors": sum(p["tensors"] for p in parts),
                "tensor_bytes": sum(p["tensor_bytes"] for p in parts)}
    if isinstance(value, (int, float, bool)) or value is None or (isinstance(value, str) and depth == 0):
        return {"type": type(value).__name__, "value": value, "tensors": 0, "tensor_bytes": 0}
    return {"type": type(value).__name__, "tensors": 0, "tensor_bytes": 0}


def checkpoint_files(folder: str) -> dict:
    """Every file in ``folder`` read back with ``torch.load(weights_only=True)``: size and keys."""
    import torch

    contents = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        contents[name] = {"file_bytes": os.path.getsize(path),
                          "keys": {str(k): describe_value(v) for k, v in checkpoint.items()}}
    return contents


def file_names(folder: str) -> list[str]:
    """The files under ``folder``, as paths relative to it, sorted."""
    root = Path(folder)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def csv_rows(path: str) -> list[dict]:
    """The rows of a CSV file (a ``CSVLogger``'s ``metrics.csv``), numbers as floats, blanks dropped."""
    rows = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            parsed = {}
            for key, text in row.items():
                if text in ("", None):
                    continue
                try:
                    parsed[key] = float(text)
                except ValueError:
                    parsed[key] = text
            rows.append(parsed)
    return rows


READERS = {"checkpoint_files": checkpoint_files, "file_names": file_names, "csv_rows": csv_rows}
"""What a ``gather`` entry of a ``runs.toml`` may name: ``{ reader = "...", path = "{ckpt_dir}" }``."""


def checkpoint_values(path: str) -> dict:
    """One file read back with ``torch.load(weights_only=True)``, every value as it was saved (the
    stored result holds tensors as lists): what checks compare across files and across runs, such
    as the weights a resumed run saved against those of an uninterrupted one."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


READERS["checkpoint_values"] = checkpoint_values


def csv_series(path: str) -> dict:
    """A metrics CSV with a ``step`` column (a ``CSVLogger``'s ``metrics.csv``, or one written by
    hand the same way), one series per other column: ``{column: {"step": [...], "value": [...]}}``
    over the rows where that column holds a value, in file order."""
    series: dict[str, dict[str, list]] = {}
    for row in csv_rows(path):
        for column, value in row.items():
            if column != "step":
                entry = series.setdefault(column, {"step": [], "value": []})
                entry["step"].append(int(row["step"]))
                entry["value"].append(value)
    return series


def tensorboard_scalars(folder: str) -> dict:
    """Every scalar of the TensorBoard event files in ``folder``, read back with TensorBoard's own
    ``EventAccumulator``: ``{tag: {"step": [...], "value": [...]}}``, the shape `csv_series` gives."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(folder)
    accumulator.Reload()
    scalars = {tag: accumulator.Scalars(tag) for tag in sorted(accumulator.Tags()["scalars"])}
    return {tag: {"step": [e.step for e in events], "value": [e.value for e in events]}
            for tag, events in scalars.items()}


READERS["csv_series"] = csv_series
READERS["tensorboard_scalars"] = tensorboard_scalars


def exported_program(path: str) -> dict:
    """A ``torch.export`` program (``torch.export.save``'s ``.pt2``) read back with
    ``torch.export.load``: its ``weights`` (``{name: tensor}``), the device types they are on, and
    the shape of each input the caller passes, a dimension the export left free written ``"dynamic"``."""
    import torch

    program = torch.export.load(path)
    inputs = set(program.graph_signature.user_inputs)
    shapes = [[size if isinstance(size, int) else "dynamic" for size in node.meta["val"].shape]
              for node in program.graph.nodes if node.op == "placeholder" and node.name in inputs]
    return {"weights": {name: value.detach().cpu() for name, value in program.state_dict.items()},
            "devices": sorted({value.device.type for value in program.state_dict.values()}), "inputs": shapes}


READERS["exported_program"] = exported_program


def config_files(folder: str) -> dict:
    """Every JSON or YAML file in ``folder`` (a run's saved configuration, such as the
    ``config.yaml`` LightningCLI writes): ``{name: {"text": ..., "values": ...}}``, the text as
    written and the values parsed (YAML with ``yaml.safe_load``)."""
    import json

    found = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and path.suffix in (".json", ".yaml", ".yml"):
            text = path.read_text()
            if path.suffix == ".json":
                values = json.loads(text)
            else:
                import yaml

                values = yaml.safe_load(text)
            found[path.name] = {"text": text, "values": values}
    return found


READERS["config_files"] = config_files


def chrome_trace(path: str) -> dict:
    """A profiler's Chrome trace (``torch.profiler``'s ``export_chrome_trace``, the traces
    Lightning's ``PyTorchProfiler`` writes), or every ``*.json`` trace under a folder, summarised
    by event name over its complete events: ``{name: {"category", "count", "total_ms",
    "self_ms"}}``. Self time is an event's duration less that of the events directly inside it
    on the same thread."""
    import json

    root = Path(path)
    found: dict[str, dict] = {}

    def close(event: dict, inner_us: float) -> None:
        entry = found.setdefault(event["name"], {"category": event.get("cat", ""), "count": 0,
                                                 "total_ms": 0.0, "self_ms": 0.0})
        entry["count"] += 1
        entry["total_ms"] += event["dur"] / 1000
        entry["self_ms"] += (event["dur"] - inner_us) / 1000

    for file in [root] if root.is_file() else sorted(root.rglob("*.json")):
        threads: dict[tuple, list] = {}
        for event in json.loads(file.read_text()).get("traceEvents", []):
            if event.get("ph") == "X" and "dur" in event:
                threads.setdefault((event.get("pid"), event.get("tid")), []).append(event)
        for events in threads.values():
            events.sort(key=lambda e: (e["ts"], -e["dur"]))
            opened: list[list] = []  # [event, duration of the events directly inside it]
            for event in events:
                while opened and event["ts"] >= opened[-1][0]["ts"] + opened[-1][0]["dur"]:
                    close(*opened.pop())
                if opened:
                    opened[-1][1] += event["dur"]
                opened.append([event, 0.0])
            while opened:
                close(*opened.pop())
    return found


def text_files(folder: str) -> dict:
    """Every ``*.txt`` file under ``folder`` as written (a profiler's report): ``{name: text}``."""
    root = Path(folder)
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.txt")) if p.is_file()}


READERS["chrome_trace"] = chrome_trace
READERS["text_files"] = text_files


def gather(declared: dict, arguments: dict, workdir: Path) -> dict:
    """The values a run's ``gather`` table asks for, read after one program's logged run.

    ``declared`` maps a result key to ``{reader, path}``; ``path`` may name the program's
    ``run()`` arguments in braces (``"{ckpt_dir}"``), filled from ``arguments``, and is relative
    to the worker's folder, where the program ran.
    """
    found = {}
    for key, entry in declared.items():
        reader = READERS[entry["reader"]]
        path = Path(str(entry["path"]).format(**arguments))
        found[key] = reader(str(path if path.is_absolute() else workdir / path))
    return found


def gathered_run(run, kwargs: dict, declared_gather: dict | None = None, device: str = "cpu",
                 workdir: Path | None = None) -> tuple[dict, Watch]:
    """Call a program's ``run(**kwargs)`` as the worker's logged run does, and return what the
    page sees: the result with the harness's values (`normalise`) and the declared ``gather``.

    Tests use it to check a topic's behaviour on the same values the page shows.
    """
    with Watch() as watch:
        result = run(**kwargs)
    result = normalise(result, watch, device)
    if declared_gather:
        result.update(gather(declared_gather, call_arguments(run, kwargs), workdir or Path.cwd()))
    return result, watch
