"""evidence/views/changes.py: only the hunks where a framework's program differs, captioned."""

from __future__ import annotations

from evidence.programs import programs, topics
from evidence.views.changes import FALLBACK, changes, hunks

PLAIN = '''"""Plain."""
import torch


def run(epochs):
    model = torch.nn.Linear(2, 1)
    for epoch in range(epochs):
        loss = model(torch.ones(2)).sum()
        loss.backward()
    return model
'''

LIGHTNING = '''"""Lightning."""
import torch
import pytorch_lightning as pl


def run(epochs):
    model = torch.nn.Linear(2, 1)
    trainer = pl.Trainer(max_epochs=epochs)
    return model
'''


def test_hunks_show_the_code_that_differs_with_what_the_framework_does():
    found = hunks(PLAIN, LIGHTNING)
    assert [h.caption.split(" ")[:2] for h in found] == [["The", "framework's"], ["The", "Trainer"]]
    import_hunk, loop_hunk = found
    assert import_hunk.plain == [] and import_hunk.framework == [(3, "import pytorch_lightning as pl")]
    assert [n for n, _ in loop_hunk.plain] == [7, 8, 9] and [n for n, _ in loop_hunk.framework] == [8]


def test_docstrings_alone_are_not_a_hunk():
    shown = hunks(PLAIN, LIGHTNING)
    assert all("Plain." not in text for h in shown for _, text in h.plain)  # the docstring line differs


def test_an_unknown_change_gets_the_neutral_caption():
    assert hunks("x = 1\ny = 2\n", "x = 1\ny = 3\n")[0].caption == FALLBACK


def test_every_topic_has_a_changes_view_for_each_framework():
    for topic in topics():
        kinds = [p.kind for p in programs(topic)]
        text = changes(topic)
        for label in ("Lightning", "Fabric"):
            assert (f'=== "{label}"' in text) == (label.lower() in kinds), (topic, label)
