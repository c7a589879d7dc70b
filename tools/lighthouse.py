"""Measure Lighthouse scores of the built site, served the way GitHub Pages serves it (gzip).

Runs Lighthouse (npm package ``lighthouse``) in Debian's Chromium against a local server of
``site/``, for the overview, a topic page and a benchmark page, and prints the four category
scores. Lighthouse's default (mobile: a throttled CPU and network) is used unless ``--desktop``.

Lighthouse simulates a slow phone by scaling the CPU time it observes, so a machine busy with
other work scores lower on performance (total blocking time above all). The machine's speed as
Lighthouse measured it (its benchmark index) and the load average are printed with the scores;
``--runs N`` runs each page N times and reports each category's median, as Lighthouse's own
documentation advises for a variable machine.

Usage::

    npm install --prefix .lighthouse lighthouse@12        # once
    python tools/lighthouse.py [--desktop] [--runs N] [--site site] [--write FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gzip
import http.server
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PAGES = {"overview": "", "topic page": "generated/topics/01_minimal_loop/plot_minimal_loop/",
         "benchmark page": "generated/benchmarks/01_overhead/plot_overhead/"}
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGET = 95
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking "
                "--disable-component-update --no-first-run --disable-sync")


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, gzipped for clients that accept it (as GitHub Pages does)."""

    def log_message(self, *args):
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if "gzip" not in self.headers.get("Accept-Encoding", "") or not path.is_file():
            return super().send_head()
        body = gzip.compress(path.read_bytes())
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=600")
        self.end_headers()
        import io

        return io.BytesIO(body)


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(GzipHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def lighthouse_command() -> list[str]:
    local = PROJECT / ".lighthouse" / "node_modules" / ".bin" / "lighthouse"
    if local.exists():
        return [str(local)]
    found = shutil.which("lighthouse")
    if found:
        return [found]
    raise SystemExit("lighthouse not found: npm install --prefix .lighthouse lighthouse@12")


def chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("google-chrome")):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)")


def measure(site: Path, desktop: bool = False, runs: int = 1) -> dict[str, dict]:
    """Per page: the median score (0-100) of each category over ``runs`` runs, the audits that
    failed in any run, Lighthouse's benchmark index of the machine (median) and its version."""
    server, base = serve(site)
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, path in PAGES.items():
                reports = []
                for run in range(runs):
                    out = Path(tmp) / f"report-{run}.json"
                    command = [*lighthouse_command(), base + path, "--quiet", "--output=json",
                               f"--output-path={out}", f"--chrome-flags={CHROME_FLAGS}",
                               "--only-categories=" + ",".join(CATEGORIES)]
                    if desktop:
                        command.append("--preset=desktop")
                    subprocess.run(command, check=True, timeout=300, env={**os.environ, "CHROME_PATH": chromium()})
                    reports.append(json.loads(out.read_text()))
                results[name] = {
                    "scores": {c: round(100 * statistics.median(r["categories"][c]["score"] for r in reports))
                               for c in CATEGORIES},
                    "runs": [{c: round(100 * r["categories"][c]["score"]) for c in CATEGORIES} for r in reports],
                    "failed": sorted({a["id"] for r in reports for a in r["audits"].values()
                                      if a.get("scoreDisplayMode") == "binary" and a.get("score") == 0}),
                    "benchmark_index": round(statistics.median(r["environment"]["benchmarkIndex"] for r in reports)),
                    "lighthouse": reports[0]["lighthouseVersion"]}
    finally:
        server.shutdown()
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=PROJECT / "site")
    parser.add_argument("--desktop", action="store_true", help="Lighthouse's desktop preset")
    parser.add_argument("--runs", type=int, default=1, help="runs per page; each category's median is reported")
    parser.add_argument("--write", type=Path, help="also write the scores as Markdown to this file")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    results = measure(args.site, args.desktop, args.runs)
    load_after = os.getloadavg()[0]
    mode = "desktop preset" if args.desktop else "default (mobile) settings"
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    version = next(iter(results.values()))["lighthouse"]
    speed = ", ".join(f"{name} {r['benchmark_index']}" for name, r in results.items())
    lines = [f"Measured by `tools/lighthouse.py` on {date} with Lighthouse {version}'s {mode}"
             + (f", the median of {args.runs} runs per page" if args.runs > 1 else "")
             + f"; {os.cpu_count()} cores (load average {load_before:.1f} before, {load_after:.1f} after), Lighthouse's benchmark "
             f"index of the machine {speed}; Python {platform.python_version()}, site served gzipped.", "",
             "| page | " + " | ".join(CATEGORIES) + " |", "|---|" + "---:|" * len(CATEGORIES)]
    for name, result in results.items():
        lines.append(f"| {name} | " + " | ".join(str(result["scores"][c]) for c in CATEGORIES) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    for name, result in results.items():
        if args.runs > 1:
            print(f"{name}: every run: {result['runs']}")
        if result["failed"]:
            print(f"{name}: failed audits: {', '.join(result['failed'])}")
    if args.write:
        args.write.write_text(text)
    low = [(n, c) for n, r in results.items() for c, v in r["scores"].items() if v < TARGET]
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
