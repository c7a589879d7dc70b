"""Every link of the built site resolves, anchors included: checked by lychee, the link checker.

lychee reads the built files offline (a link to a folder needs its ``index.html``, an anchor its
id, a root-absolute link is an error because it breaks under a sub-path), then the site served
under a sub-path as GitHub project Pages serve it (``https://<owner>.github.io/<repo>/``), and the
404 page, whose links are root-absolute by design. What no link checker knows is checked here:
the search index and the sitemap name pages that exist, summary.json's links resolve, every
download is the file in ``snippets/``, and the publishing workflow builds the site as the README
says.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests import sitecheck as sc

site = pytest.mark.site
PREFIX = "/torch-vs-lightning/"


def offline(root: Path, *inputs: str) -> dict[str, list[str]]:
    """lychee over files of the site in ``root``; links at its site_url are checked as the
    files they name there (the canonical links, the sitemap)."""
    base = sc.site_url(root) if (root / "index.html").exists() else "https://example.org/r/"
    return sc.lychee("--offline", "--remap", f"^{re.escape(base)}(.*)$ {root.as_uri()}/$1",
                     *(inputs or [str(p) for p in sc.html_pages(root) if p.name != "404.html"]), cwd=root)


def served(base: str, urls: list[str]) -> dict[str, list[str]]:
    """lychee over pages fetched from the test server at ``base``: every link to that server is
    checked over HTTP (a link leaving the prefix fails there), every other host is left out."""
    server = "{0.scheme}://{0.netloc}/".format(urlsplit(base))
    return sc.lychee("--include", f"^{re.escape(server)}", "--exclude", ".*", *urls)


# -- the checker fails on each kind of broken link ----------------------------------------------

PAGE = ('<html lang="en"><head><link rel="canonical" href="https://example.org/r/">'
        '<link rel="stylesheet" href="s.css"><script src="j.js"></script></head><body>'
        '<h1 id="top">T</h1><a href="b/">page</a><a href="b/#here">anchor</a><img src="i.png" alt="x">'
        '<a href="https://example.com/elsewhere">outside</a>{bad}</body></html>')


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("bad, reason", [
    ('<a href="c/">a page that is not there</a>', "File not found"),
    ('<a href="b/#gone">an anchor that is not there</a>', "Cannot find fragment"),
    ('<img src="missing.png" alt="an image that is not there">', "File not found"),
    ('<a href="/b/">root-absolute: breaks under a sub-path</a>', ""),
], ids=["page", "anchor", "image", "root-absolute"])
def test_lychee_fails_on_a_broken_link_anchor_or_image(tmp_path, bad, reason):
    write(tmp_path / "b" / "index.html", '<html><body><h2 id="here">x</h2><a href="../#top">up</a></body></html>')
    for name in ("s.css", "j.js", "i.png"):
        write(tmp_path / name, "x")
    write(tmp_path / "index.html", PAGE.format(bad=""))
    assert offline(tmp_path) == {}  # the good site passes
    write(tmp_path / "index.html", PAGE.format(bad=bad))
    errors = [line for lines in offline(tmp_path).values() for line in lines]
    assert len(errors) == 1 and reason in errors[0], errors


def test_lychee_over_http_fails_on_a_link_that_leaves_the_prefix(tmp_path):
    write(tmp_path / "index.html", '<html><body><a href="b/">in</a><a href="../elsewhere/">out</a></body></html>')
    write(tmp_path / "b" / "index.html", "<html><body></body></html>")
    with sc.serve(tmp_path, PREFIX) as base:
        errors = served(base, [base])
    assert [line for lines in errors.values() for line in lines] == [
        base.replace(PREFIX, "/elsewhere/") + ": Rejected status code: 404 Not Found"], errors


# -- the built site -----------------------------------------------------------------------------

@site
def test_no_broken_link_or_anchor(built_site):
    errors = offline(built_site)
    assert not errors, json.dumps(errors, indent=1)


@site
def test_search_index_and_sitemap_point_at_existing_pages(built_site, tmp_path):
    index = json.loads((built_site / "search" / "search_index.json").read_text())
    assert index["docs"], "the search index is empty"
    links = tmp_path / "search-index.html"  # the index's locations, as links from the home page
    links.write_text("".join(f'<a href="{doc["location"] or "./"}">{i}</a>\n' for i, doc in enumerate(index["docs"])))
    errors = sc.lychee("--offline", "--base-url", built_site.as_uri() + "/", str(links))
    assert not errors, json.dumps(errors, indent=1)
    locs = re.findall(r"<loc>([^<]+)</loc>", (built_site / "sitemap.xml").read_text())
    assert locs and all(loc.startswith(sc.site_url(built_site)) for loc in locs), locs
    errors = offline(built_site, "sitemap.xml")
    assert not errors, json.dumps(errors, indent=1)


@site
def test_summary_json_links_resolve(built_site):
    summary = json.loads((built_site / "results" / "summary.json").read_text())
    for topic in summary["topics"]:
        assert (built_site / topic["page"] / "index.html").is_file(), topic["page"]
        for impl in topic["implementations"].values():
            assert (built_site / impl["download"]).is_file(), impl["download"]


DOWNLOAD = re.compile(r'<a\b[^>]*\bdownload\b[^>]*\bhref="([^"]+)"')


@site
def test_topic_downloads_are_the_snippets(built_site):
    pages = sc.topic_pages(built_site)
    assert pages, "no topic page with implementation tabs in the built site"
    for html in pages:
        hrefs = DOWNLOAD.findall(html.read_text())
        assert len(hrefs) >= 4, f"{html.relative_to(built_site)}: {hrefs}"  # three programs and the zip
        for href in hrefs:
            target = (html.parent / href).resolve()  # lychee checked that it exists
            problem = sc.download_problem(target.relative_to(built_site).as_posix(), target.read_bytes())
            assert problem is None, problem


# -- served under a sub-path, as project Pages are ----------------------------------------------

@site
def test_site_works_under_a_sub_path(built_site):
    """Every page fetched under /torch-vs-lightning/, and every page, asset, anchor and download it
    links to, by lychee over HTTP."""
    with sc.serve(built_site, PREFIX) as base:
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(base.replace(PREFIX, "/"), timeout=30)  # the server keeps to the prefix
        pages = [base + sc.page_url(built_site, p) for p in sc.html_pages(built_site) if p.name != "404.html"]
        errors = served(base, pages)
    assert not errors, json.dumps(errors, indent=1)


@site
def test_404_page_links_follow_site_url(built_site):
    """404.html is served for any missing path, so its links are root-absolute: served under the
    path of site_url (the workflow sets SITE_URL to the Pages URL), every one must resolve."""
    html = (built_site / "404.html").read_text()
    prefix = urlsplit(sc.site_url(built_site)).path or "/"
    assert re.search(rf'href="{re.escape(prefix)}assets/', html), "404.html links are not root-absolute"
    with sc.serve(built_site, prefix) as base:
        errors = served(base, [base + "404.html"])
    assert not errors, json.dumps(errors, indent=1)


# -- the publishing workflow --------------------------------------------------------------------

WORKFLOW = sc.PROJECT_DIR / ".github" / "workflows" / "pages.yml"


def test_pages_workflow_builds_and_deploys_the_site():
    flow = yaml.safe_load(WORKFLOW.read_text())
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert triggers["push"]["branches"] == ["main"]
    assert flow["permissions"] == {}  # nothing workflow-wide: each job asks for what it needs
    build, deploy = flow["jobs"]["build"], flow["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert flow["jobs"]["shards"]["permissions"] == {"contents": "read"}
    for job in flow["jobs"].values():  # every third-party action pinned by its commit
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
    steps = build["steps"]
    uses = [s.get("uses", "") for s in steps] + [s.get("uses", "") for s in deploy["steps"]]
    for action in ("actions/checkout@", "actions/setup-python@", "actions/configure-pages@",
                   "actions/upload-pages-artifact@", "actions/deploy-pages@"):
        assert any(u.startswith(action) for u in uses), action
    runs = "\n".join(s.get("run", "") for s in steps)
    assert 'pip install -c constraints.txt -e ".[docs]"' in runs or \
        'pip install -c constraints.txt -e ".[test]"' in runs
    assert re.search(r"^\s*mkdocs build --strict\b", runs, re.M), runs
    build_step = next(s for s in steps if "mkdocs build --strict" in s.get("run", ""))
    assert "SITE_URL" in build_step.get("env", {}) or "SITE_URL" in build.get("env", {})
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert "ubuntu" in build["runs-on"]  # a CPU runner; the GPU job is optional and commented out
    assert "gpu" in WORKFLOW.read_text().lower()
    # the full sweep (every test, slow ones included: every page in both palettes, every program as
    # downloaded) runs after the build and before anything is uploaded for publishing
    names = [s.get("run", "") + s.get("uses", "") for s in steps]
    sweep = next(i for i, run in enumerate(names) if re.search(r'python -m pytest -m "slow or not slow"(?! tests/)', run))
    built = next(i for i, run in enumerate(names) if "mkdocs build --strict" in run)
    uploaded = next(i for i, run in enumerate(names) if "upload-pages-artifact" in run)
    assert built < sweep < uploaded


def test_pages_workflow_installs_from_files_that_exist():
    runs = "\n".join(s.get("run", "") for s in yaml.safe_load(WORKFLOW.read_text())["jobs"]["build"]["steps"])
    for name in re.findall(r"-c (\S+)", runs):
        assert (sc.PROJECT_DIR / name).is_file(), f"the workflow installs with -c {name}, which is not in the repository"


def test_pages_workflow_runs_one_shard_job_per_matrix_version():
    from evidence import matrix

    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    shards = jobs["shards"]
    assert shards["strategy"]["matrix"]["lightning"] == list(matrix.VERSIONS)
    assert shards["strategy"]["fail-fast"] is False
    runs = "\n".join(s.get("run", "") for s in shards["steps"])
    assert "tools/version_matrix.py --version ${{ matrix.lightning }}" in runs
    assert jobs["build"]["needs"] == "shards"
    merge = next(s for s in jobs["build"]["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    assert merge["with"]["path"] == matrix.RESULTS_DIR.relative_to(sc.PROJECT_DIR).as_posix()
