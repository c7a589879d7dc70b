"""Views of the API-changes page: each old call and its replacement, with what happened."""

from __future__ import annotations

from evidence.results import load
from evidence.views.topic import ShownResult as RunResult
from evidence.views import Code, Html, Strong, admonition, paragraph
from evidence.views.code import highlighted


class Attempts(RunResult):
    """The migration page's run: every case attempted on the installed Lightning."""

    def case(self, slug: str) -> dict:
        """One recorded case by its slug (``"gpus"``): the old and the new call, each with its source and outcome."""
        for case in self["cases"]:
            if case["slug"] == slug:
                return case
        raise KeyError(f"no API change {slug!r} (known: {', '.join(c['slug'] for c in self['cases'])})")

    def show(self, slug: str) -> Html:
        """The old call and its replacement, each with what it did on the installed Lightning."""
        case = self.case(slug)
        return Html(paragraph(Strong("Before (Lightning 1.x):")) + highlighted(case["old"]["source"])
                    + outcome(case["old"]) + paragraph(Strong("After (Lightning 2.x):"))
                    + highlighted(case["new"]["source"]) + outcome(case["new"]))


def outcome(attempt: dict) -> Html:
    """An admonition saying what happened: the error, the warnings, or the result."""
    result = [paragraph("Result: ", Code(attempt["result"]))] if attempt.get("result") else []
    if attempt.get("error"):
        return admonition("failure", f"Raises {attempt['error_type']} on the installed Lightning",
                          [Code(attempt["error"])], *result)
    if attempt.get("warnings"):
        return admonition("warning", "Runs, with warnings", *[[Code(w)] for w in attempt["warnings"]], *result)
    return admonition("success", "Runs on the installed Lightning", *result)


def attempts() -> Attempts:
    """The recorded attempts of this build."""
    return load("api_changes", Attempts).headline
