"""MkDocs hooks that make the executed gallery fast, never stale, bounded and loud.

mkdocs-gallery 0.10.4 runs examples in the build process, re-runs one only when its own file
changes, has no timeout and stops ``mkdocs serve`` on a failing example. These hooks, named in
``mkdocs.yml``, work around each without changing the plugin:

* **never stale**: before the gallery runs, each script's inputs (itself, the snippets of the
  topics it runs, the harness, versions and device) are hashed; when the hash differs from the
  one recorded at its last successful run, the gallery's checksum is removed so it runs again;
* **isolated and fast**: programs run in one worker process per topic
  (:mod:`snippets.harness.worker`); topics that need running are started two at a time before
  the gallery executes, and their timed phases take turns;
* **bounded**: each example gets ``DOCS_EXAMPLE_TIMEOUT`` seconds (default 300), for its worker
  and for its own code;
* **loud**: ``mkdocs build`` fails on a failing example, naming its file and line; under
  ``mkdocs serve`` the page shows the error and the server keeps running;
* and the pages get their code tabs, download links, the overview's summary table and
  ``results/summary.json``.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import posixpath
import re
import signal
import threading
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

from snippets.harness import runner
from snippets.harness.environment import stamp
from snippets.harness.programs import LABELS, compress_ranges, count_loc, highlight_lines, programs
from snippets.harness.report import format_difference
from snippets.site import gallery as gal

log = logging.getLogger("mkdocs.hooks.executed_docs")

IMPLEMENTATIONS_MARK = re.compile(r"^(?P<indent>[ \t]*)<!-- implementations(?::\s*(?P<topic>\w+))? -->[ \t]*$",
                                  re.MULTILINE)
SUMMARY_MARK = "<!-- summary-table -->"

_state: dict = {"command": "build", "scripts": [], "summary": None, "page_src": {}}


class ExampleTimeout(Exception):
    """An example ran past ``DOCS_EXAMPLE_TIMEOUT``."""


# -- paths ------------------------------------------------------------------------------------

def _gallery(config):
    return config.plugins["gallery"]


def _project_dir(config) -> Path:
    return Path(config.config_file_path).resolve().parent


def _roots(config) -> list[tuple[Path, Path]]:
    """(examples folder, output folder) of each gallery."""
    conf = _gallery(config).config
    examples, outputs = conf["examples_dirs"], conf["gallery_dirs"]
    examples = [examples] if isinstance(examples, str) else list(examples)
    outputs = [outputs] if isinstance(outputs, str) else list(outputs)
    base = _project_dir(config)
    return [((base / e).resolve(), (base / o).resolve()) for e, o in zip(examples, outputs)]


def _scripts(config) -> list[gal.GalleryScript]:
    return [script for pair in _roots(config) for script in gal.scripts(*pair)]


# -- timeout ----------------------------------------------------------------------------------

def _arm_timeout(gallery_conf, file) -> None:
    """mkdocs-gallery calls its resetters before each example: (re)arm the alarm for it."""
    if threading.current_thread() is not threading.main_thread():
        return  # serve rebuilds run in a thread; the worker's own timeout still applies
    signal.alarm(0)
    if file is None:
        return
    seconds = int(runner.timeout_s())
    name = Path(file).as_posix()

    def _expired(signum, frame):
        raise ExampleTimeout(f"{name} did not finish within the per-example timeout of {seconds} s "
                             f"and was stopped (set DOCS_EXAMPLE_TIMEOUT to change the limit)")

    signal.signal(signal.SIGALRM, _expired)
    signal.alarm(seconds)


def _disarm() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.alarm(0)


# -- events -----------------------------------------------------------------------------------

def on_startup(command, dirty=False, **kwargs):
    _state["command"] = command


def _serve_mode(config) -> None:
    """Keep serving: show a failing example on its page and in the log instead of stopping.

    ``strict: true`` makes MkDocs count warnings from the start of each build and abort at its
    end; under ``mkdocs serve`` that would stop the server on a failing example, so the count
    is dropped there (warnings are still printed). ``mkdocs build`` stays strict.
    """
    config.strict = False
    mkdocs_logger = logging.getLogger("mkdocs")
    for handler in list(mkdocs_logger.handlers):
        if type(handler).__name__ == "CountHandler":
            mkdocs_logger.removeHandler(handler)


@event_priority(-100)  # after mkdocs-gallery has parsed its configuration
def on_config(config, **kwargs):
    project = _project_dir(config)
    generated = Path(config.docs_dir) / "generated"
    os.environ.setdefault("DOCS_CACHE_DIR", str(generated / ".cache"))
    os.environ["DOCS_RESULTS_DIR"] = str(generated / "results")
    conf = _gallery(config).config
    conf["reset_modules"] = tuple(conf["reset_modules"]) + (_arm_timeout,)
    config.watch.append(str(project / "snippets"))
    for examples, _output in _roots(config):
        config.watch.append(str(examples))
    if _state["command"] == "serve":
        _serve_mode(config)
    # MkDocs hooks get one function per event; this step must run after mkdocs-gallery's
    # on_pre_build (which executes the examples) and before MkDocs cleans the site folder.
    config.plugins.events["pre_build"].append(after_gallery)
    return config


@event_priority(100)  # before mkdocs-gallery executes anything
def on_pre_build(config, **kwargs):
    if _state["command"] == "serve":
        _gallery(config).config["only_warn_on_example_error"] = True
    scripts = _scripts(config)
    _state["scripts"] = scripts
    stale = []
    for script in scripts:
        if not script.is_current() and script.md5_file.exists():
            script.md5_file.unlink()  # inputs changed: make mkdocs-gallery run it again
        if not script.md5_file.exists():
            stale.append(script)
    if stale and _gallery(config).config["plot_gallery"]:
        specs = [spec for s in stale for spec in s.specs]
        if specs:
            log.info("Running %d topic(s) for %d example(s), two at a time: %s", len(specs), len(stale),
                     ", ".join(sorted({s["topic"] for s in specs})))
            runner.prefetch(specs)


def _record_executed_inputs() -> None:
    """After the gallery ran: stamp each successfully executed script with its inputs' digest."""
    _disarm()
    for script in _state["scripts"]:
        if script.md5_file.exists():
            digest = script.digest()
            if not (script.inputs_file.exists() and script.inputs_file.read_text() == digest):
                script.inputs_file.write_text(digest)


def failure_report(failing: dict, project: Path) -> str:
    """One block per failing example: where it failed (file:line) and the error's last lines."""
    blocks = []
    for src, formatted in failing.items():
        src = Path(src)
        name = src.relative_to(project).as_posix() if src.is_relative_to(project) else src.name
        lines = re.findall(rf'File "[^"]*{re.escape(src.name)}", line (\d+)', formatted)
        where = f"{name}:{lines[-1]}" if lines else name
        tail = [line for line in formatted.strip().splitlines() if line.strip()][-12:]
        blocks.append(f"{where}: example failed\n    " + "\n    ".join(tail))
    return "\n".join(blocks)


def after_gallery(config, **kwargs):
    """Runs after mkdocs-gallery executed the examples: stamp inputs, stop on failures."""
    _record_executed_inputs()
    failing = _gallery(config).config.get("failing_examples") or {}
    if failing:
        report = failure_report(failing, _project_dir(config))
        if _state["command"] == "serve":
            log.error("Failing example(s); their pages show the error until the file is fixed:\n%s", report)
        else:
            # stop before MkDocs cleans the site folder and writes pages: nothing half-executed
            # is published
            raise PluginError(f"{len(failing)} example(s) failed:\n{report}")


def on_files(files: Files, config):
    config["nav"] = flatten_nav(config["nav"])
    unpack_assets(files, config)
    for topic in _topics_on_pages():
        for program in programs(topic):
            files.append(File.generated(config, f"downloads/{topic}/{program.path.name}",
                                        abs_src_path=str(program.path)))
    _state["summary"] = build_summary(config, files)
    files.append(File.generated(config, "results/summary.json",
                                content=json.dumps(_state["summary"], indent=1, allow_nan=False)))
    return files


def unpack_assets(files: Files, config) -> None:
    """Publish ``docs/assets/**/*.gz`` unpacked (Mermaid's 3.5 MB script is kept gzipped in git).

    Serving Mermaid from the site itself, instead of Material's default CDN, keeps the pages
    working offline and keeps readers' visits away from third parties.
    """
    for file in [f for f in files if f.src_uri.startswith("assets/") and f.src_uri.endswith(".gz")]:
        files.remove(file)
        files.append(File.generated(config, file.src_uri[:-3],
                                    content=gzip.decompress(Path(file.abs_src_path).read_bytes())))


def flatten_nav(items: list) -> list:
    """Drop empty sections and lift a section holding a single page into its parent.

    mkdocs-gallery nests every example folder as a section; with one page per topic folder
    that would be a section per page.
    """
    out = []
    for item in items:
        if isinstance(item, dict) and len(item) == 1:
            (title, value), = item.items()
            if isinstance(value, list):
                value = flatten_nav(value)
                if not value:
                    continue
                if len(value) == 1 and isinstance(value[0], dict) and not isinstance(next(iter(value[0].values())), list):
                    out.append({title: next(iter(value[0].values()))} if _is_index(value[0]) else value[0])
                    continue
                item = {title: value}
        out.append(item)
    return out


def _is_index(item: dict) -> bool:
    return str(next(iter(item.values()))).endswith("index.md")


def _topics_on_pages() -> list[str]:
    found = []
    for script in _state["scripts"]:
        for topic in [script.topic] + script.topics:
            try:
                programs(topic)
            except LookupError:
                continue
            if topic not in found:
                found.append(topic)
    return found


# A result echoes the spec its worker got, which the runner extends with build-machine paths
# (lock file, project root, flags in a temporary folder): publish only what make_spec describes.
def build_summary(config, files: Files) -> dict:
    """``results/summary.json``: every topic whose page was executed with its current inputs."""
    results_dir = Path(os.environ["DOCS_RESULTS_DIR"])
    topics, environment = [], None
    _state["page_src"] = {}
    for script in _state["scripts"]:
        result_file = results_dir / f"{script.topic}.json"
        if not (script.is_current() and result_file.exists()):
            continue
        entry = json.loads(result_file.read_text())
        environment = environment or entry.pop("environment", None)
        entry.pop("environment", None)
        md = Path(script.output_md).relative_to(Path(config.docs_dir).resolve()).as_posix()
        _state["page_src"][script.topic] = md
        page = files.get_file_from_path(md)
        entry["title"] = script.title
        entry["page"] = page.url if page else md
        entry["source"] = script.path.relative_to(_project_dir(config)).as_posix()
        for kind, impl in entry["implementations"].items():
            impl["download"] = f"downloads/{script.topic}/{impl['file']}"
        topics.append({"slug": entry.pop("slug"), "title": entry.pop("title"), **entry})
    benchmarks = {}
    for script in _state["scripts"]:
        bench_file = results_dir / "benchmarks" / f"{script.topic}.json"
        if script.is_current() and bench_file.exists():
            benchmarks[script.topic] = json.loads(bench_file.read_text())
    return {"environment": environment or stamp(), "executed": bool(topics), "topics": topics,
            "benchmarks": benchmarks}


def on_page_markdown(markdown: str, page, config, files):
    src = page.file.src_uri
    if SUMMARY_MARK in markdown:
        markdown = markdown.replace(SUMMARY_MARK, summary_table(_state["summary"], src))

    def expand(match: re.Match) -> str:
        topic = match.group("topic") or gal.folder_topic(posixpath.basename(posixpath.dirname(src)))
        return implementation_tabs(topic, src, match.group("indent"))

    return IMPLEMENTATIONS_MARK.sub(expand, markdown)


def _relative(target: str, page_src: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(page_src) or ".")


def implementation_tabs(topic: str, page_src: str, indent: str = "") -> str:
    """Linked content tabs with each program, its lines of code, highlights and a download link."""
    highlights = highlight_lines(topic)
    out = []
    for program in programs(topic):
        source = program.path.read_text()
        link = _relative(f"downloads/{topic}/{program.path.name}", page_src)
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


def summary_table(summary: dict | None, page_src: str) -> str:
    """The overview's matrix: topic × lines of code × parity × timing, from ``summary.json``."""
    if not summary or not summary["topics"]:
        return ('!!! note "No executed results in this build"\n    The examples were not executed in '
                "this build (for example with `DOCS_EXECUTE=0`), so there are no numbers to show.\n")
    kinds = [k for k in LABELS if any(k in t["implementations"] for t in summary["topics"])]
    head = ["Topic"] + [f"{LABELS[k]} LOC" for k in kinds] + ["Parity"] + [f"{LABELS[k]} median run" for k in kinds]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in summary["topics"]:
        link = _relative(_state["page_src"][t["slug"]], page_src)
        cells = [f"[{t['title']}]({link})"]
        cells += [str(t["implementations"][k]["loc"]) if k in t["implementations"] else "–" for k in kinds]
        p = t.get("parity")
        cells.append(f"{p['verdict']} ({format_difference(p['value'])})" if p else "–")
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

