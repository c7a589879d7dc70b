"""``python -m evidence.loopdiff``: the ``loopdiff`` command (`evidence.loopdiff.cli.main`)."""

from evidence.loopdiff.cli import main

raise SystemExit(main())
