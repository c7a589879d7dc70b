"""MkDocs hooks for what the build adds to pages: program tabs, downloads, ``summary.json``.

* ``<!-- implementations -->`` in a page (or ``<!-- implementations: <topic> -->``) becomes
  linked content tabs (PyTorch | Lightning | Fabric) holding each program, its lines of code,
  the lines it does not share with its counterpart highlighted, and a download link;
* every program of every topic is published under ``downloads/<topic>/``;
* the API reference page of the topic views lists every module in ``evidence/views/topics/``;
* ``results/summary.json`` is built from each topic's **headline** run (and the benchmarks'
  runs), and ``<!-- summary-table -->`` on the overview renders it.
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

from evidence import declared
from evidence.hooks import gallery, pages
from evidence.programs import KINDS, LABELS, compress_ranges, count_loc, highlight_lines, programs, topics
from evidence.running import runner
from evidence.running.environment import stamp
from evidence.views import difference

IMPLEMENTATIONS_MARK = re.compile(r"^(?P<indent>[ \t]*)<!-- implementations(?::\s*(?P<topic>\w+))? -->[ \t]*$",
                                  re.MULTILINE)
SUMMARY_MARK = "<!-- summary-table -->"

_state: dict = {"summary": None, "page_src": {}}


def _relative(target: str, page_src: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(page_src) or ".")


def topic_pages(config) -> dict[str, pages.GalleryScript]:
    """The page of each topic: the gallery script in the folder named after it."""
    found = {}
    for script in gallery.all_scripts(config):
        found.setdefault(script.topic, script)
    return found


def page_uri(script: pages.GalleryScript, config) -> str:
    """The page's source path inside ``docs/`` (``generated/topics/01_x/plot_x.md``)."""
    return script.output_md.relative_to(Path(config.docs_dir).resolve()).as_posix()


def download_uri(topic: str, filename: str) -> str:
    return f"downloads/{topic}/{filename}"


# -- events -----------------------------------------------------------------------------------

def on_files(files: Files, config):
    files.append(File.generated(config, "reference/topic-views.md", content=topic_views_reference()))
    for topic in topics():
        for program in programs(topic):
            files.append(File.generated(config, download_uri(topic, program.path.name),
                                        abs_src_path=str(program.path)))
    _state["summary"] = build_summary(config)
    files.append(File.generated(config, "results/summary.json",
                                content=json.dumps(_state["summary"], indent=1, allow_nan=False)))
    return files


def on_page_markdown(markdown: str, page, config, files):
    src = page.file.src_uri
    if SUMMARY_MARK in markdown:
        markdown = markdown.replace(SUMMARY_MARK, summary_table(_state["summary"], src))

    def expand(match: re.Match) -> str:
        topic = match.group("topic") or pages.folder_topic(posixpath.basename(posixpath.dirname(src)))
        return implementation_tabs(topic, src, match.group("indent"))

    return IMPLEMENTATIONS_MARK.sub(expand, markdown)


def topic_views_reference() -> str:
    """The API reference page of ``evidence/views/topics/``: one section per module there."""
    folder = Path(__file__).resolve().parents[1] / "views" / "topics"
    modules = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    return "# Topic views\n\n::: evidence.views.topics\n\n" + "".join(
        f"::: evidence.views.topics.{name}\n\n" for name in modules)


# -- the tabs -----------------------------------------------------------------------------------

def implementation_tabs(topic: str, page_src: str, indent: str = "") -> str:
    """Linked content tabs with each program, its lines of code, highlights and a download link."""
    highlights = highlight_lines(topic)
    out = []
    for program in programs(topic):
        source = program.source
        link = _relative(download_uri(topic, program.path.name), page_src)
        hl = compress_ranges(highlights.get(program.kind, []))
        fence = "````"
        body = [f'{fence}python title="{program.path.name} · {count_loc(source)} lines of code"'
                + (f' hl_lines="{hl}"' if hl else "") + ' linenums="1"',
                *source.rstrip("\n").splitlines(), fence, "",
                f"[:material-download: Download `{program.path.name}`]({link}){{ .md-button download }}"
                f" and run it: `python {program.path.name} --epochs 3`"]
        out.append(f'=== "{program.label}"\n\n' + "\n".join(("    " + line) if line else "" for line in body))
    text = "\n\n".join(out) + "\n\n"
    return "\n".join(indent + line if line else "" for line in text.splitlines()) + "\n"


# -- summary.json ---------------------------------------------------------------------------------

def topic_entry(topic: str, report: dict, run: declared.Run, script: pages.GalleryScript | None, config) -> dict:
    """One topic's ``summary.json`` entry, from its headline run's report."""
    impls = {}
    for kind, impl in report["implementations"].items():
        t = impl.get("timing", {})
        impls[kind] = {"file": impl["file"], "download": download_uri(topic, impl["file"]), "loc": impl["loc"],
                       "median_s": t.get("median_s"), "q1_s": t.get("q1_s"), "q3_s": t.get("q3_s"),
                       "runs": t.get("runs", 0), "per_step_ms": t.get("per_step_ms"),
                       "first_run_s": impl["first_run_s"], "steps": impl["steps"], "device": impl["device"],
                       "peak_memory_bytes": impl.get("memory", {}).get("bytes"),
                       "memory_kind": impl.get("memory", {}).get("kind")}
    parity = report.get("parity")
    if parity:
        parity = {k: parity[k] for k in ("verdict", "metric", "value", "tolerance", "reference", "checks")}
    page = page_uri(script, config)[:-len(".md")] + "/" if script else None
    return {"slug": topic, "title": script.title if script else topic, "page": page,
            "run": run.name, "spec": run.spec(), "implementations": impls, "parity": parity,
            "environment": report["environment"]}


def build_summary(config) -> dict:
    """``results/summary.json``: each topic's headline run, and every benchmark run."""
    by_topic = topic_pages(config)
    entries, environment = [], None
    _state["page_src"] = {}
    for topic in topics():
        run = declared.run(topic)
        report = runner.stored(run)
        if report is None or topic not in by_topic:
            continue
        environment = environment or report["environment"]
        _state["page_src"][topic] = page_uri(by_topic[topic], config)
        entries.append(topic_entry(topic, report, run, by_topic[topic], config))
    benchmarks = {}
    if "benchmarks" in declared.folders():
        for run in declared.runs("benchmarks"):
            report = runner.stored(run)
            if report is not None:
                benchmarks[run.name] = report
    return {"environment": environment or stamp(), "executed": bool(entries), "topics": entries,
            "benchmarks": benchmarks}


def summary_table(summary: dict | None, page_src: str) -> str:
    """The overview's matrix: topic × lines of code × parity × timing, from ``summary.json``."""
    if not summary or not summary["topics"]:
        return ('!!! note "No executed results in this build"\n    The examples were not executed in '
                "this build (for example with `DOCS_EXECUTE=0`), so there are no numbers to show.\n")
    kinds = [k for k in KINDS if any(k in t["implementations"] for t in summary["topics"])]
    head = ["Topic"] + [f"{LABELS[k]} LOC" for k in kinds] + ["Parity"] + [f"{LABELS[k]} median run" for k in kinds]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in summary["topics"]:
        link = _relative(_state["page_src"][t["slug"]], page_src)
        cells = [f"[{t['title']}]({link})"]
        cells += [str(t["implementations"][k]["loc"]) if k in t["implementations"] else "–" for k in kinds]
        p = t.get("parity")
        cells.append(f"{p['verdict']} ({difference(p['value'])})" if p else "–")
        for k in kinds:
            impl = t["implementations"].get(k)
            cells.append(f"{impl['median_s'] * 1000:.1f} ms" if impl and impl.get("median_s") else "–")
        lines.append("| " + " | ".join(cells) + " |")
    env = summary["environment"]
    lines.append("")
    lines.append(f"Measured on {env['device']} ({env['device_name']}), {env['date']}; "
                 f"torch {env['torch']}, pytorch_lightning {env['pytorch_lightning']}. "
                 f"[Download the data]({_relative('results/summary.json', page_src)}) as JSON.")
    return "\n".join(lines) + "\n"
