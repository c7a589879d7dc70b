"""``loopdiff``: record two training runs call by call, then say where they part.

The site's recorder (`evidence.running.trace.Recorder`) as a command readers run on their own
scripts, unchanged::

    loopdiff record -o a.json train_plain.py --epochs 2
    loopdiff record -o b.json train_lightning.py --epochs 2
    loopdiff diff a.json b.json

``record`` runs a training script in its own process, as ``python SCRIPT ARGS...`` would
(``__name__ == "__main__"``, ``sys.argv`` set), with the recorder listening: every forward pass
(with the model's mode and the grad mode), ``zero_grad``, ``backward``, optimizer and scheduler
step, gradient clipping, and who made each call; after every optimizer step, the loss and a
digest of the parameters, and a copy of the parameters while a memory budget lasts. It writes
them to one JSON file (`evidence.loopdiff.recording`).

``diff`` compares two such files step by step (`evidence.loopdiff.comparing`): identical at every
optimizer step, or the first step where the parameters part, the parameter that differs most
there and by how much, and the two call traces aligned around that step with the rows that
differ marked. Its exit code: 0 identical, 1 within ``--tolerance``, 2 different, 3 unusable
input.

The command line is `evidence.loopdiff.cli.main` (installed as the ``loopdiff`` console script
by ``pip install -e .``; ``python -m evidence.loopdiff`` is the same). The site's page *Diff your
own loops* runs it on the site's own programs (`evidence.loopdiff.worker`).
"""

from __future__ import annotations

from evidence.loopdiff.cli import main

__all__ = ["main"]
