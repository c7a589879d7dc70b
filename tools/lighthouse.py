"""Measure Lighthouse scores of the built site, served the way GitHub Pages serves it (gzip).

Runs Lighthouse (npm package ``lighthouse``) in Debian's Chromium against a local server of
``site/``, for the overview, a topic page and a benchmark page, and prints the four category
scores. Lighthouse's default (mobile: a throttled CPU and network) is used unless ``--desktop``.

Usage::

    npm install --prefix .lighthouse lighthouse@12        # once
    python tools/lighthouse.py [--desktop] [--site site] [--write FILE]
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


def measure(site: Path, desktop: bool = False) -> dict[str, dict]:
    """Scores (0-100) per page and category, and the audits that failed."""
    server, base = serve(site)
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, path in PAGES.items():
                out = Path(tmp) / "report.json"
                command = [*lighthouse_command(), base + path, "--quiet", "--output=json",
                           f"--output-path={out}", f"--chrome-flags={CHROME_FLAGS}",
                           "--only-categories=" + ",".join(CATEGORIES)]
                if desktop:
                    command.append("--preset=desktop")
                subprocess.run(command, check=True, timeout=300, env={**os.environ, "CHROME_PATH": chromium()})
                report = json.loads(out.read_text())
                results[name] = {
                    "scores": {c: round(100 * report["categories"][c]["score"]) for c in CATEGORIES},
                    "failed": sorted(a["id"] for a in report["audits"].values()
                                     if a.get("scoreDisplayMode") == "binary" and a.get("score") == 0)}
    finally:
        server.shutdown()
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=PROJECT / "site")
    parser.add_argument("--desktop", action="store_true", help="Lighthouse's desktop preset")
    parser.add_argument("--write", type=Path, help="also write the scores as Markdown to this file")
    args = parser.parse_args(argv)
    results = measure(args.site, args.desktop)
    mode = "desktop preset" if args.desktop else "default (mobile) settings"
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    lines = [f"Measured by `tools/lighthouse.py` on {date} with Lighthouse's {mode}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, site served gzipped.", "",
             "| page | " + " | ".join(CATEGORIES) + " |", "|---|" + "---:|" * len(CATEGORIES)]
    for name, result in results.items():
        lines.append(f"| {name} | " + " | ".join(str(result["scores"][c]) for c in CATEGORIES) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    for name, result in results.items():
        if result["failed"]:
            print(f"{name}: failed audits: {', '.join(result['failed'])}")
    if args.write:
        args.write.write_text(text)
    low = [(n, c) for n, r in results.items() for c, v in r["scores"].items() if v < TARGET]
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
