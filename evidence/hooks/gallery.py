"""MkDocs hooks around mkdocs-gallery: declared runs first, pages never stale, bounded, loud.

mkdocs-gallery 0.10.4 runs examples in the build process, re-runs one only when its own file
changes, has no timeout and stops ``mkdocs serve`` on a failing example. These hooks, named in
``mkdocs.yml``, work around each without changing the plugin:

* **runs first**: before the gallery runs, every declared run whose inputs changed is executed
  in worker processes (`evidence.running.runner.execute_stale`), one per topic, two
  topics at a time, with progress in the log; pages then only load results;
* **never stale**: a page whose recorded inputs (its script, the rendering machinery, the
  results it loaded) changed loses the gallery's checksum, so the gallery runs it again;
* **bounded**: each run gets ``DOCS_EXAMPLE_TIMEOUT`` seconds (default 300) in its worker, and
  each page as much for its own code;
* **loud**: ``mkdocs build`` fails on a failing page or run, naming its file and line, before
  anything is written; under ``mkdocs serve`` the page shows the error and the server keeps
  running;
* **flat**: the gallery's one-page sections are lifted into their parent in the navigation.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

from evidence import checks, declared, results
from evidence.hooks import pages
from evidence.programs import PROJECT_DIR, topics
from evidence.running import runner

log = logging.getLogger("mkdocs.hooks.evidence")

_COMMAND = ["build"]
"""The MkDocs command this process runs (``build`` or ``serve``), from ``on_startup``: a fact of
the process, not of one build. Everything a build needs is derived from its config and files."""


class ExampleTimeout(Exception):
    """A page ran past ``DOCS_EXAMPLE_TIMEOUT``."""


def gallery_plugin(config):
    return config.plugins["gallery"]


def gallery_roots(config) -> list[tuple[Path, Path]]:
    """(examples folder, output folder) of each gallery."""
    conf = gallery_plugin(config).config
    examples, outputs = conf["examples_dirs"], conf["gallery_dirs"]
    examples = [examples] if isinstance(examples, str) else list(examples)
    outputs = [outputs] if isinstance(outputs, str) else list(outputs)
    base = Path(config.config_file_path).resolve().parent
    return [((base / e).resolve(), (base / o).resolve()) for e, o in zip(examples, outputs)]


def all_scripts(config) -> list[pages.GalleryScript]:
    """Every page script of every gallery, in gallery order."""
    return [script for pair in gallery_roots(config) for script in pages.scripts(*pair)]


# -- before each page -------------------------------------------------------------------------

def _before_page(gallery_conf, file) -> None:
    """mkdocs-gallery calls its resetters before each page: note the page, (re)arm its alarm."""
    if threading.current_thread() is not threading.main_thread():
        return  # serve rebuilds run in a thread; the workers' own timeout still applies
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
    _COMMAND[0] = command


def _serve_mode(config) -> None:
    """Keep serving: show a failing page in the log and on the page instead of stopping.

    ``strict: true`` makes MkDocs count warnings from the start of each build and abort at its
    end; under ``mkdocs serve`` that would stop the server on a failing page, so the count is
    dropped there (warnings are still printed). ``mkdocs build`` stays strict.
    """
    config.strict = False
    mkdocs_logger = logging.getLogger("mkdocs")
    for handler in list(mkdocs_logger.handlers):
        if type(handler).__name__ == "CountHandler":
            mkdocs_logger.removeHandler(handler)


@event_priority(-100)  # after mkdocs-gallery has parsed its configuration
def on_config(config, **kwargs):
    conf = gallery_plugin(config).config
    conf["reset_modules"] = tuple(conf["reset_modules"]) + (_before_page,)
    for folder in ("snippets", "evidence"):
        config.watch.append(str(PROJECT_DIR / folder))
    for examples, _output in gallery_roots(config):
        config.watch.append(str(examples))
    if _COMMAND[0] == "serve":
        _serve_mode(config)
    # mkdocs-gallery adds its four style sheets to every page; no page here has a Binder badge or
    # a pandas table, so two of them would only delay every page's first paint
    config.extra_css[:] = [css for css in config.extra_css
                           if css not in ("sg_gallery-binder.css", "sg_gallery-dataframe.css")]
    # MkDocs hooks get one function per event; this step must run after mkdocs-gallery's
    # on_pre_build (which executes the pages) and before MkDocs cleans the site folder.
    config.plugins.events["pre_build"].append(after_gallery)
    return config


@event_priority(100)  # before mkdocs-gallery executes anything
def on_pre_build(config, **kwargs):
    conf = gallery_plugin(config).config
    if _COMMAND[0] == "serve":
        conf["only_warn_on_example_error"] = True
    executing = bool(conf["plot_gallery"])
    try:
        for topic in declared.folders().keys() | set(topics()):
            declared.runs(topic)
    except declared.DeclarationError as error:
        raise PluginError(str(error)) from None
    runner.forget_failures()  # each build tries failed runs again
    if executing:
        selected = _topics_of_selected_pages(conf["filename_pattern"])
        runner.execute_stale(selected)
        report_checks(selected)
    scripts = all_scripts(config)
    stale = 0
    pattern = conf["filename_pattern"]
    for script in scripts:
        # only a page the gallery will execute is made to run again: an unselected page
        # (DOCS_PAGES) keeps its last output untouched, so that nothing under docs/ is rewritten
        # and `mkdocs serve` is not woken by its own build
        selected = re.search(pattern, str(script.path)) is not None
        if selected and script.md5_file.exists() and not script.is_current():
            script.md5_file.unlink()  # inputs changed: make mkdocs-gallery run it again
        stale += selected and not script.md5_file.exists()
    if executing and stale:
        log.info("Rendering %d of %d page(s) from their results", stale, len(scripts))


def report_checks(selected: list[str] | None) -> None:
    """Log how many checks each topic declares and how many came out as declared; warn (which
    fails a strict build) for every check that did not."""
    counts = []
    for topic in selected if selected is not None else topics():
        if topic not in topics():
            continue
        found = results.stored_checks(topic)
        if found is None:
            continue
        declared_here = len(checks.declared_checks(topic))
        counts.append(f"{topic} {len(found)} ({declared_here} across runs)")
        for c in found:
            if not c["expected"]:
                log.warning("Check %r of topic %r came out %s (value %s), not %s as declared: %s",
                            c["name"], topic, c["verdict"], c["value"], c["expect"], c["say"])
    if counts:
        log.info("Checks per topic: %s", ", ".join(counts))


def _topics_of_selected_pages(pattern: str) -> list[str] | None:
    """With ``DOCS_PAGES`` set (the gallery's ``filename_pattern``), the topics whose names it
    matches; else None (every topic). A page that loads another topic runs that one itself."""
    if pattern == "plot_":
        return None
    return [topic for topic in declared.folders() if re.search(pattern, topic)]


def _record_executed_pages(config) -> None:
    """After the gallery ran: record the inputs of each page it executed successfully."""
    _disarm()
    for script in all_scripts(config):
        if not script.needs_record():
            continue
        if runner.failures(script.loaded_topics()):
            script.md5_file.unlink(missing_ok=True)  # it shows a failure: render it again next build
        else:
            script.record()


def failure_report(failing: dict, project: Path) -> str:
    """One block per failing page: where it failed (file:line) and the error's last lines."""
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
    """Runs after mkdocs-gallery executed the pages: record their inputs, stop on failures."""
    _record_executed_pages(config)
    failing = gallery_plugin(config).config.get("failing_examples") or {}
    unshown = [r for r in runner.failures() if not any(r["topic"] in text for text in failing.values())]
    if failing or unshown:
        report = "\n".join([failure_report(failing, PROJECT_DIR)] + [
            f"run {r['run']!r} of topic {r['topic']!r} failed at {r['error']['location']}\n    "
            + "\n    ".join(r["error"]["traceback"].strip().splitlines()[-12:]) for r in unshown]).strip()
        if _COMMAND[0] == "serve":
            log.error("Failing example(s); their pages show the error until the file is fixed:\n%s", report)
        else:
            # stop before MkDocs cleans the site folder and writes pages: nothing half-executed
            # is published
            raise PluginError(f"{len(failing) + len(unshown)} example(s) or run(s) failed:\n{report}")


def on_files(files, config):
    config["nav"] = flatten_nav(config["nav"])
    return files


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
