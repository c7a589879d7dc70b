"""The programs readers compare: one folder per topic.

Each topic lives in ``snippets/<topic>/`` as standalone programs named
``pytorch_<topic>.py``, ``lightning_<topic>.py`` and ``fabric_<topic>.py``, beside the
``runs.toml`` that declares what the build runs. The :mod:`evidence` package runs, measures,
compares and renders them; nothing here imports it.
"""
