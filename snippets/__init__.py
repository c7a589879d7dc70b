"""Runnable comparison programs (plain PyTorch, Lightning, Fabric) and the harness that runs them.

Each topic lives in ``snippets/<topic>/`` as standalone programs named
``torch_<topic>.py``, ``lightning_<topic>.py`` and ``fabric_<topic>.py``. The
:mod:`snippets.harness` package runs, times, compares and reports them; the
:mod:`snippets.site` package connects the results to the MkDocs build.
"""
