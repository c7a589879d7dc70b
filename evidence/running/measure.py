"""Measuring tools the worker uses: captured output, peak memory, timing statistics, parity."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import io
import logging
import os
import re
import socket
import statistics
import sys
import threading
import time


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# -- output -----------------------------------------------------------------------------------

class _CurrentStream:
    """A stream that writes to whatever ``sys.stderr`` is *now*.

    Lightning's loggers keep the stream they were created with; pointing their handlers at
    this proxy lets ``contextlib.redirect_stderr`` capture what they print.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def route_library_logging() -> None:
    """Send Lightning's log records through the current ``sys.stderr`` so runs can capture them."""
    for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch", "lightning.fabric"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(_CurrentStream())


@contextlib.contextmanager
def captured_output():
    """Capture everything printed to stdout and stderr (including warnings) into one buffer."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield buffer


def sanitize(text: str, roots: list[str] | None = None) -> str:
    """Remove machine-specific paths from published text.

    Paths inside installed packages become ``<site-packages>/...``, paths inside the project
    become relative, and the home folder becomes ``~``.
    """
    text = re.sub(r"/[^\s\"'()]*?/(?:site|dist)-packages/", "<site-packages>/", text)
    for root in sorted(roots or [], key=len, reverse=True):
        if root and root != "/":
            text = text.replace(root.rstrip("/") + "/", "")
    home = os.path.expanduser("~")
    if home and home != "/":
        text = text.replace(home, "~")
    host = socket.gethostname()
    if host:
        # file names such as TensorBoard's events.out.tfevents.<time>.<host>.<pid> carry it
        text = re.sub(rf"(?<=\.){re.escape(host)}(?=\.)", "<host>", text)
        if len(host) >= 4:
            text = re.sub(rf"\b{re.escape(host)}\b", "<host>", text)
    return text


# -- memory -----------------------------------------------------------------------------------

def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:  # not Linux: fall back to the peak the OS reports
        import resource

        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _release_free_memory() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@contextlib.contextmanager
def peak_memory(device: str):
    """Measure the peak memory a block adds, in bytes, into the yielded dict's ``"bytes"``.

    On CUDA this is ``torch.cuda.max_memory_allocated`` above the allocation at the start.
    On CPU it is the peak resident set size above the start, sampled every millisecond,
    after returning freed memory to the OS so that earlier runs do not hide this one's.
    """
    import torch

    out = {"kind": "cuda max_memory_allocated" if device == "cuda" else "peak RSS growth"}
    _release_free_memory()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        yield out
        torch.cuda.synchronize()
        out["bytes"] = int(torch.cuda.max_memory_allocated() - start)
        return
    start = _rss_bytes()
    peak = [start]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            stop.wait(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield out
    finally:
        stop.set()
        sampler.join()
        peak[0] = max(peak[0], _rss_bytes())
        out["bytes"] = int(peak[0] - start)


# -- time -------------------------------------------------------------------------------------

def timed(fn, *args, sync_cuda: bool = False, **kwargs):
    """Call ``fn`` and return ``(result, seconds)``; waits for CUDA work when asked."""
    import torch

    if sync_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    if sync_cuda:
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def summarize(times: list[float]) -> dict:
    """Median, quartiles, minimum and maximum of repeated timings (seconds)."""
    ordered = sorted(times)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {"median_s": statistics.median(ordered), "q1_s": q1, "q3_s": q3,
            "min_s": ordered[0], "max_s": ordered[-1], "runs": len(ordered)}


# -- parity -----------------------------------------------------------------------------------

def max_abs_difference(a, b) -> float:
    """Largest absolute difference between two results of the same shape.

    Works on tensors, numbers and nested dicts/lists of them. Differing keys, lengths or
    shapes count as an infinite difference (the results are not comparable).
    """
    import torch

    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            pairs = aligned(a, b)
            if pairs is None:
                return float("inf")
            return max((max_abs_difference(x, y) for x, y in pairs), default=0.0)
        return max((max_abs_difference(a[k], b[k]) for k in a), default=0.0)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return float("inf")
        return max((max_abs_difference(x, y) for x, y in zip(a, b)), default=0.0)
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        ta, tb = torch.as_tensor(a), torch.as_tensor(b)
        if ta.shape != tb.shape:
            return float("inf")
        if ta.numel() == 0:
            return 0.0
        if not (ta.is_floating_point() or tb.is_floating_point()):
            return float((ta != tb).any())
        return float((ta.double() - tb.double()).abs().max())
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return 0.0 if a == b else float("inf")
    if a is None or b is None:
        return 0.0 if a is b else float("inf")
    return abs(float(a) - float(b))


def _common_prefix(keys: list[str]) -> str:
    """The leading dotted segments every key shares (``"model."`` of a LightningModule's weights)."""
    parts = [k.split(".") for k in keys]
    shared = []
    for segments in zip(*(p[:-1] for p in parts)):
        if len(set(segments)) != 1:
            break
        shared.append(segments[0])
    return "".join(s + "." for s in shared)


def aligned(a: dict, b: dict) -> list[tuple] | None:
    """Pairs of values of two state dicts whose names differ only by how the network was held.

    First by name, after removing what every name of one dict starts with (a LightningModule's
    ``model.``) and the prefixes wrappers add (``_forward_module.``, ``_orig_mod.``, ``module.``);
    then, with as many entries of the same shapes in the same order, by order. None when neither
    matches: the two are not the same model.
    """
    from evidence.running.trace import _unwrapped

    if not all(isinstance(k, str) for k in (*a, *b)):
        return None

    def names(d: dict) -> dict:
        prefix = _common_prefix(list(d)) if len(d) > 1 else ""
        return {_unwrapped(k[len(prefix):]): k for k in d}

    na, nb = names(a), names(b)
    if set(na) == set(nb):
        return [(a[na[k]], b[nb[k]]) for k in na]
    import torch

    tensors = all(isinstance(v, torch.Tensor) for v in (*a.values(), *b.values()))
    if tensors and len(a) == len(b) and all(x.shape == y.shape for x, y in zip(a.values(), b.values())):
        return list(zip(a.values(), b.values()))
    return None


_PART = re.compile(r'\["([^"]+)"\]|([^.\[\]]+)')


def path_parts(path: str) -> list[str]:
    """``'checkpoints["last.ckpt"].keys'`` -> ``["checkpoints", "last.ckpt", "keys"]``."""
    return [quoted or plain for quoted, plain in _PART.findall(path)]


def lookup(result, path: str):
    """``lookup(r, "history.val_loss")`` -> ``r["history"]["val_loss"]``.

    A key holding a dot is written in brackets and quotes (``checkpoints["last.ckpt"].keys``);
    a number indexes a list (``history.val_loss.-1``, the last).
    """
    value = result
    for part in path_parts(path):
        if isinstance(value, list) and re.fullmatch(r"-?\d+", part) and -len(value) <= int(part) < len(value):
            value = value[int(part)]
            continue
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"the program's result has no {path!r} (missing {part!r})")
        value = value[part]
    return value


def verdict(value: float, tolerance: float) -> str:
    """``identical`` for a zero difference, ``close`` within the tolerance, else ``differs``."""
    if value == 0.0:
        return "identical"
    return "close" if value <= tolerance else "differs"


