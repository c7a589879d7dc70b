"""The environment stamp: what ran the programs, named on every page and in every results file."""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import sys
from pathlib import Path
from importlib import metadata


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _fabric_version() -> str:
    # pytorch-lightning ships lightning_fabric inside its own distribution; read its version
    # file rather than importing it (an import costs seconds in every build)
    from importlib.util import find_spec

    spec = find_spec("lightning_fabric")
    if spec is None or spec.origin is None:
        return "not installed"
    version_file = Path(spec.origin).parent / "version.info"
    return version_file.read_text().splitlines()[0].strip() if version_file.exists() else _version("lightning-fabric")


def cpu_name() -> str:
    """The processor's model name (from ``/proc/cpuinfo`` on Linux)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


GPU_DEVICE_NODES = ("/dev/nvidia[0-9]*", "/dev/kfd", "/dev/dxg")
"""Device files without which no GPU is visible to torch on Linux: NVIDIA's, AMD ROCm's (which
torch reports through ``torch.cuda``) and WSL2's GPU bridge."""


def gpu_possible() -> bool:
    """Whether torch could find a GPU here, decided without importing torch (about a second).

    False on Linux when none of `GPU_DEVICE_NODES` exists, and on macOS (torch has no
    CUDA there); True otherwise, so that `device_kind` asks torch itself.
    """
    if sys.platform == "darwin":
        return False
    if sys.platform.startswith("linux"):
        import glob

        return any(glob.glob(pattern) for pattern in GPU_DEVICE_NODES)
    return True


def device_kind() -> str:
    """``"cuda"`` where a CUDA GPU is present, else ``"cpu"``: the device programs use by default."""
    if not gpu_possible():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.lru_cache(maxsize=None)
def _fingerprint() -> tuple:
    device = device_kind()
    if device == "cuda":
        import torch

        device_name = torch.cuda.get_device_name(0)
    else:
        device_name = cpu_name()
    return (("python", platform.python_version()), ("torch", _version("torch")),
            ("pytorch_lightning", _version("pytorch-lightning")), ("lightning_fabric", _fabric_version()),
            ("device", device), ("device_name", device_name))


def fingerprint() -> dict:
    """What decides whether earlier results still hold: versions and device, not the date.

    Computed once per process (every page's inputs digest asks for it), and without importing
    torch where no GPU can be present: the build's own process never needs torch then.
    """
    return dict(_fingerprint())


def stamp(threads: int | None = None) -> dict:
    """The full environment stamp: `fingerprint` plus threads, platform and date."""
    import torch

    info = fingerprint()
    info.update({
        "threads": threads if threads is not None else torch.get_num_threads(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "platform": f"{platform.system()} {platform.machine()}",
        "numpy": _version("numpy"),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "executable": "python" + ".".join(map(str, sys.version_info[:2])),
    })
    return info


def describe(env: dict) -> str:
    """One line for a page: device, threads, versions and date."""
    device = env["device_name"] if env["device"] == "cpu" else f"{env['device_name']} (CUDA)"
    return (f"Executed on {env['device']} ({device}), {env['threads']} torch thread(s), "
            f"Python {env['python']}, torch {env['torch']}, pytorch_lightning {env['pytorch_lightning']}, "
            f"{env['date']}")
