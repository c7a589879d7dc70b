"""Results recorded on other machines and committed, shown beside this build's own.

``evidence/recorded/gpu/*.json`` holds what ``tools/gpu_evidence.py`` wrote on a machine with a
CUDA GPU: every topic's declared runs executed there, with the machine (GPU, driver, CUDA, torch
and Lightning versions) and the date. The build never writes here; a file comes from a real run
of the script on a GPU and is committed by hand. Dry runs (``--dry-run``, the same code on the
CPU) are labelled as such and never read.
"""

from __future__ import annotations

import json
from pathlib import Path

GPU_DIR = Path(__file__).resolve().parent / "gpu"
"""Where GPU results files are committed."""

KIND = "gpu-evidence"


def gpu_records(folder: Path = GPU_DIR) -> list[dict]:
    """Every committed GPU results file, newest first; dry runs and other files are skipped."""
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = json.loads(path.read_text())
        if data.get("kind") == KIND and not data.get("dry_run"):
            data["file"] = path.name
            data["environment"]["file"] = path.name
            found.append(data)
    return sorted(found, key=lambda d: d["environment"]["date"], reverse=True)


def latest_gpu(folder: Path = GPU_DIR) -> dict | None:
    """The newest committed GPU results file, or None."""
    records = gpu_records(folder)
    return records[0] if records else None


def gpu_run(topic: str, run: str, folder: Path = GPU_DIR) -> tuple[dict, dict] | None:
    """``(machine, result)`` of ``topic``'s run ``run`` in the newest GPU file holding it."""
    for record in gpu_records(folder):
        result = record.get("topics", {}).get(topic, {}).get(run)
        if result is not None:
            return record["environment"], result
    return None
