"""Every link of the built site resolves: pages, anchors, images, scripts, stylesheets, downloads.

No network: external links are listed and checked for form only. The site must also work when
served under a sub-path, as GitHub project Pages serve it (``https://<owner>.github.io/<repo>/``),
and the publishing workflow must build it the way the README says.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests import sitecheck as sc

site = pytest.mark.site
PREFIX = "/torch-vs-lightning/"


def check_links(root: Path) -> tuple[list[str], dict[str, list[str]]]:
    """All broken internal references of the site in ``root`` and its external links by page."""
    broken, external = [], {}
    root_prefix = urlsplit(sc.site_url(root)).path or "/"
    for html in sc.html_pages(root):
        name = html.relative_to(root).as_posix()
        for link in sc.parse(html).links:
            url = link.url
            if not url or url.startswith(("javascript:", "data:")):
                continue
            at_site_url = sc.is_external(url) and url.startswith(sc.site_url(root))
            if at_site_url:
                # the canonical link names this page at site_url: check it like an internal one
                url = root_prefix + url[len(sc.site_url(root)):]
            elif sc.is_external(url):
                error = sc.external_form_error(url)
                if error:
                    broken.append(f"{name}: <{link.tag} {link.attr}={url!r}>: {error}")
                external.setdefault(name, []).append(url)
                continue
            elif url.startswith("/") and name != "404.html":
                # root-absolute links break when the site is served under a sub-path
                broken.append(f"{name}: <{link.tag} {link.attr}={url!r}>: root-absolute link")
                continue
            rel, target, fragment = sc.resolve(root, html, url, root_prefix)
            if target is None:
                broken.append(f"{name}: <{link.tag} {link.attr}={url!r}>: {rel!r} does not exist")
            elif fragment and target.suffix == ".html" and fragment not in sc.parse(target).ids:
                broken.append(f"{name}: <{link.tag} {link.attr}={url!r}>: no id {fragment!r} in "
                              f"{target.relative_to(root).as_posix()}")
    for css in sorted(root.rglob("*.css")):
        for url in sc.css_urls(css):
            if sc.is_external(url):
                external.setdefault(css.relative_to(root).as_posix(), []).append(url)
                continue
            target = (css.parent / urlsplit(url).path).resolve()
            if not target.is_file():
                broken.append(f"{css.relative_to(root).as_posix()}: url({url}) does not exist")
    return broken, external


# -- the checker itself can fail ----------------------------------------------------------------

def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_link_check_finds_each_kind_of_broken_link(tmp_path):
    page = ('<html lang="en"><head><link rel="canonical" href="https://example.org/r/">'
            '<link rel="stylesheet" href="{css}"><script src="{js}"></script></head><body>'
            '<h1 id="top">T</h1><a href="{page}">p</a><a href="{anchor}">a</a>'
            '<img src="{img}" alt="x"><a download href="{dl}">d</a><a href="https://exa mple.org">e</a>'
            '<a href="/abs/">abs</a></body></html>')
    good = dict(css="s.css", js="j.js", page="b/", anchor="b/#here", img="i.png", dl="f.py")
    write(tmp_path / "index.html", page.format(**good))
    write(tmp_path / "b" / "index.html", '<html><body><h2 id="here">x</h2><a href="../#top">up</a></body></html>')
    for name in ("s.css", "j.js", "i.png", "f.py"):
        write(tmp_path / name, "x")
    broken, external = check_links(tmp_path)
    # only the malformed external link and the root-absolute one are wrong
    assert len(broken) == 2 and "malformed" in broken[0] and "root-absolute" in broken[1], broken
    assert external["index.html"] == ["https://exa mple.org"]
    bad = dict(css="nope.css", js="../j.js", page="c/", anchor="b/#gone", img="i.jpg", dl="g.py")
    write(tmp_path / "index.html", page.format(**bad))
    broken, _ = check_links(tmp_path)
    assert len(broken) == 8, broken
    for url in bad.values():
        assert any(repr(url) in line for line in broken), (url, broken)


# -- the built site -----------------------------------------------------------------------------

@site
def test_no_broken_internal_link(built_site):
    broken, external = check_links(built_site)
    assert not broken, f"{len(broken)} broken link(s):\n" + "\n".join(broken)
    # the external links, listed for the record (pytest -rA shows them)
    print("external links:", json.dumps(sorted({u for urls in external.values() for u in urls}), indent=1))


@site
def test_every_page_has_one_h1_and_a_language(built_site):
    bad = [f"{p.relative_to(built_site)}: {sc.parse(p).h1} h1, lang={sc.parse(p).lang!r}"
           for p in sc.html_pages(built_site) if sc.parse(p).h1 != 1 or not sc.parse(p).lang]
    assert not bad, "\n".join(bad)


@site
def test_search_index_and_sitemap_point_at_existing_pages(built_site):
    index = json.loads((built_site / "search" / "search_index.json").read_text())
    assert index["docs"], "the search index is empty"
    missing = []
    for doc in index["docs"]:
        rel, target, fragment = sc.resolve(built_site, built_site / "index.html", doc["location"] or "./")
        if target is None or (fragment and fragment not in sc.parse(target).ids):
            missing.append(doc["location"])
    assert not missing, missing
    base = sc.site_url(built_site)
    locs = re.findall(r"<loc>([^<]+)</loc>", (built_site / "sitemap.xml").read_text())
    assert locs and all(loc.startswith(base) for loc in locs), locs
    missing = [loc for loc in locs if sc.resolve(built_site, built_site / "index.html",
                                                 "./" + loc[len(base):])[1] is None]
    assert not missing, missing


@site
def test_summary_json_links_resolve(built_site):
    summary = json.loads((built_site / "results" / "summary.json").read_text())
    for topic in summary["topics"]:
        assert (built_site / topic["page"] / "index.html").is_file(), topic["page"]
        for impl in topic["implementations"].values():
            assert (built_site / impl["download"]).is_file(), impl["download"]


@site
def test_topic_downloads_are_the_snippets(built_site):
    pages = sc.topic_pages(built_site)
    assert pages, "no topic page with implementation tabs in the built site"
    for html in pages:
        downloads = [link for link in sc.parse(html).links if link.tag == "a" and link.download]
        assert downloads, f"{html.relative_to(built_site)} has no download link"
        for link in downloads:
            rel, target, _ = sc.resolve(built_site, html, link.url)
            assert target is not None, link.url
            assert target.read_bytes() == sc.snippet_for_download(rel).read_bytes(), rel


# -- served under a sub-path, as project Pages are ----------------------------------------------

@site
def test_site_works_under_a_sub_path(built_site):
    """Fetch every page under /torch-vs-lightning/ and every page, asset and download it names."""
    checked, failures = set(), []
    with sc.serve(built_site, PREFIX) as base:
        status, _ = sc.fetch(base.replace(PREFIX, "/"))
        assert status == 404, "the test server must not serve the site outside the prefix"
        for html in sc.html_pages(built_site):
            if html.name == "404.html":
                continue  # its links are root-absolute by design; see the test below
            page = sc.join(base, sc.page_url(built_site, html))
            status, body = sc.fetch(page)
            if status != 200:
                failures.append(f"{page}: HTTP {status}")
                continue
            for link in sc.parse(html).links:
                if sc.is_external(link.url) or link.url.startswith(("#", "javascript:", "data:")):
                    continue
                url = sc.join(page, link.url).split("#")[0]
                if url in checked:
                    continue
                checked.add(url)
                status, data = sc.fetch(url)
                if status != 200 or not url.startswith(base):
                    failures.append(f"{html.relative_to(built_site)}: {link.url} -> {url}: HTTP {status}")
                elif link.download:
                    expected = sc.snippet_for_download(urlsplit(url).path).read_bytes()
                    if data != expected:
                        failures.append(f"{url}: differs from the file in snippets/")
    assert not failures, "\n".join(failures)
    assert any("/downloads/" in url for url in checked) and any(url.endswith(".css") for url in checked)


@site
def test_404_page_links_follow_site_url(built_site):
    """404.html is served for any missing path, so its links are root-absolute: they must start
    with the path of site_url (the workflow sets SITE_URL to the Pages URL for this)."""
    prefix = urlsplit(sc.site_url(built_site)).path or "/"
    html = built_site / "404.html"
    bad = [link.url for link in sc.parse(html).links
           if not sc.is_external(link.url) and not link.url.startswith(prefix)]
    assert not bad, bad
    broken = [link.url for link in sc.parse(html).links
              if not sc.is_external(link.url) and sc.resolve(built_site, html, link.url, prefix)[1] is None]
    assert not broken, broken


# -- the publishing workflow --------------------------------------------------------------------

WORKFLOW = sc.PROJECT_DIR / ".github" / "workflows" / "pages.yml"


def test_pages_workflow_builds_and_deploys_the_site():
    flow = yaml.safe_load(WORKFLOW.read_text())
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert triggers["push"]["branches"] == ["main"]
    assert flow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build, deploy = flow["jobs"]["build"], flow["jobs"]["deploy"]
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


def test_pages_workflow_installs_from_files_that_exist():
    runs = "\n".join(s.get("run", "") for s in yaml.safe_load(WORKFLOW.read_text())["jobs"]["build"]["steps"])
    for name in re.findall(r"-c (\S+)", runs):
        assert (sc.PROJECT_DIR / name).is_file(), f"the workflow installs with -c {name}, which is not in the repository"
