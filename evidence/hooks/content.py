"""MkDocs hooks for what the build adds to pages: program tabs, downloads, ``summary.json``.

* ``<!-- implementations -->`` in a page (or ``<!-- implementations: <topic> -->``) becomes
  the changes-only view (`evidence.views.changes`), then linked content tabs (PyTorch |
  Lightning | Fabric) holding each whole program, its lines of code and the lines it does not
  share with its counterpart highlighted; then the downloads box, each program with the
  ``pip install`` line it needs, and all of them as one archive;
* every program of every topic is published under ``downloads/<topic>/``, and as a notebook
  (`evidence.notebooks`) beside it; with a repository (``repo_url``) the downloads box also
  opens each notebook in Colab, from the ``notebooks`` branch the Pages workflow publishes;
* each topic's headline trace is published in full (``downloads/<topic>/trace.json``);
* ``results/summary.json`` is built from each topic's **headline** run (and the benchmarks'
  runs), and ``<!-- summary-table -->`` on the overview renders it.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from pathlib import Path
from urllib.parse import urlsplit

from mkdocs.structure.files import File, Files

from evidence import declared, replays, results
from evidence.hooks import gallery, pages
from evidence.notebooks import EPOCHS, notebook, notebook_name
from evidence.programs import KINDS, LABELS, programs, topics
from evidence.source import LOC_RULE, compress_ranges, count_loc
from evidence.running import runner, timing
from evidence.recorded import GPU_DIR, gpu_records, gpu_run, latest_gpu
from evidence.running.environment import stamp
from evidence.views.changes import changes, highlight_lines
from evidence.views import difference
from evidence.views.trace import full_trace, trace_uri

IMPLEMENTATIONS_MARK = re.compile(r"^(?P<indent>[ \t]*)<!-- implementations(?::\s*(?P<topic>\w+))? -->[ \t]*$",
                                  re.MULTILINE)
SUMMARY_MARK = "<!-- summary-table -->"
SUMMARY_URI = "results/summary.json"

PLACEHOLDER = re.compile(r"(?:<p>)?<!-- evidence-block (\d+) -->(?:</p>)?")


class Blocks:
    """HTML blocks kept out of Markdown's reach for one page: a numbered comment in the
    Markdown, the HTML again once the page is rendered. Kept on the page object
    (``page.evidence_blocks``) between ``on_page_markdown`` and ``on_page_content``."""

    def __init__(self):
        self.kept: list[str] = []

    def place(self, html_block: str) -> str:
        self.kept.append(html_block)
        return f"<!-- evidence-block {len(self.kept) - 1} -->"

    def restore(self, html_text: str) -> str:
        return PLACEHOLDER.sub(lambda m: self.kept[int(m.group(1))], html_text)


def on_page_content(html_text: str, page, config, files):
    blocks = getattr(page, "evidence_blocks", None)
    return blocks.restore(html_text) if blocks else html_text


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


def gpu_uri(filename: str) -> str:
    return f"results/gpu/{filename}"


def archive_uri(topic: str) -> str:
    return f"downloads/{topic}/{topic}.zip"


def archive(topic: str) -> bytes:
    """The topic's programs in one zip file, with a README naming what each needs.

    Entries carry a fixed date, so the same programs always give the same bytes.
    """
    import io
    import zipfile

    buffer = io.BytesIO()
    lines = [f"The {topic.replace('_', ' ')} programs of the site, as the build executed them.", ""]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for program in programs(topic):
            info = zipfile.ZipInfo(f"{topic}/{program.path.name}", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, program.source)
            lines.append(f"{program.path.name}: {program.pip_install}, then python {program.path.name} "
                         f"{RUN_ARGS}")
        info = zipfile.ZipInfo(f"{topic}/README.txt", date_time=(2020, 1, 1, 0, 0, 0))
        zf.writestr(info, "\n".join(lines) + "\n")
    return buffer.getvalue()


RUN_ARGS = "--epochs 3"
"""What the downloads box tells a reader to run (``tests/test_programs.py`` runs the same)."""


# -- events -----------------------------------------------------------------------------------

def on_files(files: Files, config):
    for topic in topics():
        for program in programs(topic):
            files.append(File.generated(config, download_uri(topic, program.path.name),
                                        abs_src_path=str(program.path)))
            files.append(File.generated(config, download_uri(topic, notebook_name(program)),
                                        content=notebook(program)))
        files.append(File.generated(config, archive_uri(topic), content=archive(topic)))
        report = runner.stored(declared.run(topic))
        if report is not None and full_trace(report)["implementations"]:
            files.append(File.generated(config, trace_uri(topic), content=json.dumps(full_trace(report))))
    for record in gpu_records():
        files.append(File.generated(config, gpu_uri(record["file"]), abs_src_path=str(GPU_DIR / record["file"])))
    files.append(File.generated(config, SUMMARY_URI,
                                content=json.dumps(build_summary(config), indent=1, allow_nan=False)))
    return files


GALLERY_NOISE = [
    # "Click here to download the full example code": the page script, not a program
    re.compile(r"^!!! note\n\n    Click \[here\]\(#download_links\)\n    to download the full example code\n", re.M),
    # the page code's own time, not the time its runs took (they ran in workers)
    re.compile(r"^\*\*Total running time of the script:\*\*.*\n", re.M),
    re.compile(r'^<div id="download_links"></div>\n', re.M),
    # downloads of the page script and a notebook: they need this repository to run
    re.compile(r"^\[:fontawesome-solid-download: Download (Python source code|Jupyter notebook):.*\n", re.M),
]
"""What mkdocs-gallery adds to every page that is not true of these pages (see the patterns)."""


def source_path(src_uri: str, config) -> str:
    """The file in the repository a page is made from: its gallery script for a generated page
    (``generated/topics/01_x/plot_x.md`` -> ``gallery/topics/01_x/plot_x.py``), else ``docs/...``."""
    if src_uri.startswith("generated/") and src_uri.endswith(".md"):
        for script in gallery.all_scripts(config):
            if page_uri(script, config) == src_uri:
                return script.path.relative_to(Path(config.config_file_path).resolve().parent).as_posix()
    return f"docs/{src_uri}"


def on_page_markdown(markdown: str, page, config, files):
    src = page.file.src_uri
    if config.repo_url:  # edit and view-source links point at the file the page is made from
        source = source_path(src, config)
        base = config.repo_url.rstrip("/")
        page.edit_url = f"{base}/edit/main/{source}"
    elif page.edit_url:
        page.edit_url = None
    if src.startswith("generated/"):
        for pattern in GALLERY_NOISE:
            markdown = pattern.sub("", markdown)
    if SUMMARY_MARK in markdown:
        overhead = "generated/benchmarks/01_overhead/plot_overhead.md"
        summary = json.loads(files.get_file_from_path(SUMMARY_URI).content_string)
        markdown = markdown.replace(SUMMARY_MARK, summary_table(summary, src,
                                                                overhead if files.get_file_from_path(overhead) else None))
    page.evidence_blocks = Blocks()

    def expand(match: re.Match) -> str:
        topic = match.group("topic") or pages.folder_topic(posixpath.basename(posixpath.dirname(src)))
        return implementation_tabs(topic, src, match.group("indent"), place=page.evidence_blocks.place,
                                   repo_url=config.repo_url)

    return IMPLEMENTATIONS_MARK.sub(expand, markdown)


# -- the tabs -----------------------------------------------------------------------------------

def implementation_tabs(topic: str, page_src: str, indent: str = "", place=lambda block: block,
                        repo_url: str | None = None) -> str:
    """Linked content tabs with each program, its lines of code and highlights, then the
    downloads box. ``place`` keeps a block of HTML out of Markdown's reach (`Blocks.place`);
    ``repo_url`` is the site's repository, for the Colab links (`downloads_box`)."""
    highlights = highlight_lines(topic)
    out = []
    for program in programs(topic):
        source = program.source
        hl = compress_ranges(highlights.get(program.kind, []))
        fence = "````"
        body = [f'{fence}python title="{program.path.name} · {count_loc(source)} lines of code"'
                + (f' hl_lines="{hl}"' if hl else "") + ' linenums="1"',
                *source.rstrip("\n").splitlines(), fence]
        out.append(f'=== "{program.label}"\n\n' + "\n".join(("    " + line) if line else "" for line in body))
    only_changes = changes(topic, place=place)
    if only_changes:
        only_changes = ("**Only what differs.** The programs reduced to the places where each differs from "
                        "plain PyTorch, side by side, with what the framework does there:\n\n"
                        + only_changes + "\n\n")
    # the programs are shown twice (the changes first, then whole): left out of the search index,
    # which every page loads, so that a search finds the prose that explains them. A <section>,
    # because Material's search parser matches elements by tag: an excluded <div> stops being
    # excluded at the first inner </div>
    whole = ("**The whole programs.** Each file as the build executed it and as you download it; highlighted, "
             "the lines it does not share with its counterpart:\n\n" + "\n\n".join(out) + "\n\n")
    text = ('<section markdown="block" data-search-exclude="true">\n\n' + only_changes + whole
            + "</section>\n\n" + downloads_box(topic, page_src, repo_url))
    return "\n".join(indent + line if line else "" for line in text.splitlines()) + "\n"


NOTEBOOKS_BRANCH = "notebooks"
"""The branch the Pages workflow publishes the built notebooks to, as ``<topic>/<file>.ipynb``
(``.github/workflows/pages.yml``): Colab opens notebooks from GitHub, not from a Pages site."""


def colab_url(repo_url: str | None, topic: str, filename: str) -> str | None:
    """Where Colab opens a program's notebook: from the repository's `NOTEBOOKS_BRANCH`. None
    without a repository on github.com (a local build, a fork elsewhere): no link then."""
    if not repo_url:
        return None
    parts = urlsplit(repo_url)
    path = parts.path.strip("/").removesuffix(".git")
    if parts.netloc.lower() not in ("github.com", "www.github.com") or path.count("/") != 1:
        return None
    return f"https://colab.research.google.com/github/{path}/blob/{NOTEBOOKS_BRANCH}/{topic}/{filename}"


def downloads_box(topic: str, page_src: str, repo_url: str | None = None) -> str:
    """Each program's download link, its notebook's (and, with a repository on GitHub, an
    "Open in Colab" link), the ``pip install`` line it needs, then the archive."""
    rows = []
    for program in programs(topic):
        link = _relative(download_uri(topic, program.path.name), page_src)
        name = notebook_name(program)
        links = [f"[:material-download: `{program.path.name}`]({link}){{ download }}",
                 f"[:material-notebook-outline: `{name}`]({_relative(download_uri(topic, name), page_src)}){{ download }}"]
        colab = colab_url(repo_url, topic, name)
        if colab:
            links.append(f"[:simple-googlecolab: Open in Colab]({colab})")
        rows.append(f"    - **{program.label}**: " + " · ".join(links) + f" &nbsp; `{program.pip_install}`")
    archive_link = _relative(archive_uri(topic), page_src)
    return ("!!! tip \"Run them yourself\"\n\n"
            + "\n".join(rows) + "\n"
            f"    - [:material-folder-zip: all three as `{topic}.zip`]({archive_link}){{ download }}\n\n"
            f"    Then `python <file> {RUN_ARGS}`: CPU by default, CUDA where a GPU is present "
            "(`--device cpu` or `--device cuda` to choose). Nothing is downloaded at run time. A notebook "
            f"holds the same program, a cell per function or class, and its last cell trains it for {EPOCHS} epochs.\n\n")


# -- summary.json ---------------------------------------------------------------------------------

def topic_entry(topic: str, report: dict, run: declared.Run, script: pages.GalleryScript | None, config) -> dict:
    """One topic's ``summary.json`` entry, from its headline run's report."""
    impls = {}
    for kind, impl in report["implementations"].items():
        t = impl.get("timing", {})
        program = next(p for p in programs(topic) if p.kind == kind)
        impls[kind] = {"file": impl["file"], "download": download_uri(topic, impl["file"]), "loc": program.loc,
                       "requires": program.requires, "pip_install": program.pip_install,
                       "median_s": t.get("median_s"), "q1_s": t.get("q1_s"), "q3_s": t.get("q3_s"),
                       "runs": t.get("runs", 0), "per_step_ms": t.get("per_step_ms"),
                       "per_step_q1_ms": t.get("per_step_q1_ms"), "per_step_q3_ms": t.get("per_step_q3_ms"),
                       "startup_s": t.get("startup_s"), "after_s": t.get("after_s"),
                       "vs_reference": t.get("vs_reference"), "steps": impl["steps"], "device": impl["device"],
                       "peak_memory_bytes": impl.get("memory", {}).get("bytes"),
                       "memory_kind": impl.get("memory", {}).get("kind")}
    parity = report.get("parity")
    if parity:
        ledger = parity.get("ledger") or {}
        worst = parity.get("worst") or max(parity["checks"], key=lambda c: c["value"])
        parity = {**{k: parity[k] for k in ("verdict", "metric", "value", "tolerance", "reference", "checks")},
                  "worst": {**worst, "tolerance": parity["tolerance"]},
                  "ledger_steps": ledger.get("steps"), "first_divergence": ledger.get("first_divergence")}
    checks = results.stored_checks(topic) or []
    page = page_uri(script, config)[:-len(".md")] + "/" if script else None
    recorded = gpu_run(topic, run.name)
    gpu = None
    if recorded is not None:
        machine, result = recorded
        gpu = {"machine": machine["device_name"], "date": machine["date"], "file": gpu_uri(machine["file"]),
               **{k: v for k, v in result.items()}}
    return {"slug": topic, "title": script.title if script else topic, "page": page,
            "run": run.name, "spec": run.spec(), "implementations": impls, "parity": parity,
            "checks": checks, "checks_expected": sum(c["expected"] for c in checks),
            "environment": report["environment"], "gpu": gpu}


def build_summary(config) -> dict:
    """``results/summary.json``: each topic's headline run, every benchmark run, the GPU evidence
    and the known issues replayed (each replay's verdict per Lightning release)."""
    by_topic = topic_pages(config)
    entries, environment = [], None
    for topic in sorted(topics(), key=lambda t: str(by_topic[t].path) if t in by_topic else t):
        run = declared.run(topic)
        report = runner.stored(run)
        if topic not in by_topic:
            continue
        if report is None:
            failed = runner.failures([topic])
            if failed:  # kept in the overview, marked, with a link to the page that shows the error
                entries.append({"slug": topic, "title": by_topic[topic].title, "run": run.name,
                                "page": page_uri(by_topic[topic], config)[:-len(".md")] + "/",
                                "failed": {"run": failed[0]["run"], "location": failed[0]["error"]["location"]},
                                "implementations": {}, "parity": None, "checks": [], "checks_expected": 0})
            continue
        environment = environment or report["environment"]
        entries.append(topic_entry(topic, report, run, by_topic[topic], config))
    benchmarks = {}
    if "benchmarks" in declared.folders():
        for run in declared.runs("benchmarks"):
            report = runner.stored(run)
            if report is not None:
                benchmarks[run.name] = report
    latest = latest_gpu()
    gpu = ({"recorded": True, "machine": latest["environment"]["device_name"], "date": latest["environment"]["date"],
            "file": gpu_uri(latest["file"]), "environment": latest["environment"]} if latest else
           {"recorded": False, "note": "no GPU run recorded yet"})
    return {"environment": environment or stamp(), "executed": bool(entries), "topics": entries,
            "benchmarks": benchmarks, "gpu": gpu, "replays": replays.summary()}


def summary_table(summary: dict | None, page_src: str, overhead_page: str | None = None) -> str:
    """The overview's table, from ``summary.json``: per topic, the verdict, lines of code, time
    per step and first run of each implementation, and a bar of Lightning's and Fabric's time
    per step against plain PyTorch's. On a phone each row becomes a card (``extra.css``)."""
    if not summary or not summary["topics"]:
        return ('!!! note "No executed results in this build"\n    The examples were not executed in '
                "this build (for example with `DOCS_EXECUTE=0`), so there are no numbers to show.\n")
    kinds = [k for k in KINDS if any(k in t["implementations"] for t in summary["topics"])]
    rows = []
    for t in summary["topics"]:
        link = _relative(t["page"], page_src) + "/"
        impls = t["implementations"]
        p = t.get("parity")
        verdict = _parity_cell(p, t) if p else "–"
        if t.get("failed"):
            verdict = (f'<span class="verdict verdict-differs">failed</span> <small>run '
                       f'{html.escape(t["failed"]["run"])} at {html.escape(t["failed"]["location"])}: the page shows '
                       "the error</small>")
        untimed = _untimed(t)
        per_step = untimed or _triple(impls, kinds, _per_step) + _bars(impls)
        startup = untimed or _triple(impls, kinds, lambda i: _seconds(i.get("startup_s")))
        rows.append("<tr>"
                    f'<td data-label="Topic"><a href="{html.escape(link)}">{html.escape(t["title"])}</a></td>'
                    f'<td data-label="Parity">{verdict}</td>'
                    f'<td data-label="Lines of code">{_triple(impls, kinds, lambda i: str(i["loc"]))}</td>'
                    f'<td data-label="Per step">{per_step}</td>'
                    f'<td data-label="Start-up">{startup}</td>'
                    "</tr>")
    head = " · ".join(LABELS[k] for k in kinds)
    env = summary["environment"]
    table_html = (
        '<div class="md-typeset__table summary-table"><table>'
        f"<thead><tr><th>Topic</th><th>Parity</th><th>Lines of code<br><small>{head}</small></th>"
        f"<th>Time per step<br><small>{head}</small></th><th>Start-up<br><small>{head}</small></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>")
    notes = (f"*Lines of code*: {LOC_RULE} *Time per step*: the steady-state cost of one optimizer step, "
             "measured the same way for every implementation (the median interval between steps after the first "
             f"{timing.WARMUP_STEPS} of each run, over timed rounds that alternate the implementations' order, "
             f"as many as give each implementation {timing.MIN_STEPS} such intervals, at most "
             f"{timing.MAX_ROUNDS}); the bar shows "
             "Lightning's and Fabric's against plain PyTorch's with its 95 % interval, or says *no measurable "
             "difference* where the interval holds no difference. These are tiny models, where a framework's "
             "fixed cost per step is most of a step"
             + (f"; how the difference shrinks as models grow is on the [overhead benchmark]"
                f"({_relative(overhead_page, page_src)})" if overhead_page else "")
             + ". *Start-up*: from the call of `run()` to the end of the first optimizer step, in the same "
             "rounds (imports excluded). Measured on "
             f"{env['device']} ({env['device_name']}), {env['date']}; torch {env['torch']}, "
             f"pytorch_lightning {env['pytorch_lightning']}. "
             f"[Download the data]({_relative('results/summary.json', page_src)}) as JSON.\n\n"
             + gpu_note(summary, page_src))
    return table_html + "\n\n" + notes + "\n"


def gpu_note(summary: dict, page_src: str) -> str:
    """What the overview says of GPU evidence: the recorded file's machine, date and verdicts, or
    that none is recorded yet."""
    gpu = summary.get("gpu") or {}
    if not gpu.get("recorded"):
        return ("**On a GPU:** no GPU run recorded yet. This build's machine has no CUDA GPU and no results "
                "file from one is committed; `tools/gpu_evidence.py` records one on a GPU machine.")
    verdicts = ", ".join(f"{t['title']}: {t['gpu']['parity']['verdict']}" for t in summary["topics"]
                         if t.get("gpu") and t["gpu"].get("parity"))
    return (f"**On a GPU:** recorded on {gpu['machine']}, {gpu['date']} "
            f"([results file]({_relative(gpu['file'], page_src)})); each topic page shows its figures. "
            f"Verdicts there: {verdicts or 'none'}.")


def _parity_cell(parity: dict, topic: dict) -> str:
    """The worst check of the headline run (named), and how many of the topic's checks came out as declared."""
    worst = parity["worst"]
    checks = topic.get("checks") or []
    tally = (f'<br><small>{topic["checks_expected"]} of {len(checks)} checks as declared</small>' if checks else "")
    return (f'<span class="verdict verdict-{worst["verdict"]}">{worst["verdict"]}</span> '
            f'<small>{html.escape(worst["metric"])}: {html.escape(difference(worst["value"]))} '
            f'(worst of {len(parity["checks"])})</small>' + _ledger_note(parity) + tally)


def _ledger_note(parity: dict) -> str:
    if not parity.get("ledger_steps"):
        return ""
    first = parity.get("first_divergence")
    text = (f"same at all {parity['ledger_steps']} steps" if first is None else
            f"parts at step {first['step']} ({first['tensor']}, {difference(first['value'])})")
    return f'<br><small>{html.escape(text)}</small>'


def _untimed(entry: dict) -> str:
    """The timing cells of a topic whose headline run has no timed rounds: why, instead of dashes."""
    spec = entry.get("spec") or {}
    if spec.get("repeats", 0) > 0 or any(i.get("per_step_ms") is not None for i in entry["implementations"].values()):
        return ""
    why = ("its ranks train in processes of their own, where the step clock does not run"
           if spec.get("memory") is False else "its run declares no timed rounds")  # memory: in_process
    return f'<small>not timed: {html.escape(why)}</small>'


def _triple(impls: dict, kinds: list[str], cell) -> str:
    return '<span class="triple">' + " · ".join(
        html.escape(cell(impls[k])) if k in impls else "–" for k in kinds) + "</span>"


def _per_step(impl: dict) -> str:
    value = impl.get("per_step_ms")
    return "–" if value is None else (f"{value:.2f}" if value < 10 else f"{value:.0f}") + " ms"


def _seconds(value: float | None) -> str:
    """A start-up time: milliseconds under a second (a warm start-up is a few), else seconds."""
    if value is None:
        return "–"
    return f"{1000 * value:.0f} ms" if value < 1 else f"{value:.2f} s"


def _bars(impls: dict) -> str:
    """A small bar per framework: its steady-state time per step as a multiple of plain PyTorch's,
    with the ratio's interval, or "no measurable difference"."""
    out = []
    for kind in ("lightning", "fabric"):
        vs = impls.get(kind, {}).get("vs_reference")
        if not vs:
            continue
        if vs["verdict"] == "no measurable difference":
            out.append(f'<small class="bar-label">{LABELS[kind]}: no measurable difference '
                       f'({vs["low"]:.2f}–{vs["high"]:.2f}×)</small>')
            continue
        width = max(2, min(100, 100 * vs["ratio"] / 4))  # the bar's full width is 4x plain PyTorch
        out.append(f'<span class="bar bar-{kind}" style="width:{width:.0f}%" '
                   f'title="{LABELS[kind]}: {vs["ratio"]:.2f}x plain PyTorch per step"></span>'
                   f'<small class="bar-label">{LABELS[kind]} {vs["ratio"]:.2f}× '
                   f'({vs["low"]:.2f}–{vs["high"]:.2f})</small>')
    return '<span class="bars">' + "".join(out) + "</span>"
