"""The pages' browser code is ES modules served as they are (no build step): each role page
loads its entry module by a <script type="module"> tag, and the browser fetches every
module it imports, by relative path, from the collected static files the server serves
(collectstatic and WhiteNoise, as in production: tests/servers.py). The static storage
keeps file names (no manifest of hashed names), so "./common.js" in a collected module
is the collected common.js. Nothing is shared through globals."""

from __future__ import annotations

import contextlib
import posixpath
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.urls import reverse
from playwright.sync_api import Browser, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from map_ui.pages.roles import PAGES
from tests.browser import log_in, servable_passwords
from tests.cast import opener

SOURCES = Path(__file__).resolve().parent.parent / "map_ui" / "static" / "map_ui"
IMPORT = re.compile(r'^import (?:[^"\n]* from )?"\./([\w-]+\.js)";$', re.MULTILINE)
# Any relative import, as a page's module may import shared ones ("../map_ui/common.js").
ANY_IMPORT = re.compile(r'^import (?:[^"\n]* from )?"(\.\.?/[\w./-]+\.js)";$', re.MULTILINE)
ENTRY = re.compile(r'<script type="module" src="/static/([\w/.-]+\.js)"></script>')


def imported(entry: str) -> set[str]:
    """The entry module and every module it imports, directly or not, as static paths
    (read from the apps' static sources, where collectstatic finds them)."""
    found: set[str] = set()
    waiting = [entry]
    while waiting:
        name = waiting.pop()
        if name not in found:
            found.add(name)
            source = finders.find(name)
            assert source, name
            for spec in ANY_IMPORT.findall(Path(str(source)).read_text()):
                waiting.append(posixpath.normpath(posixpath.join(posixpath.dirname(name), spec)))
    return found


def test_every_module_imports_by_relative_path_only_and_names_no_global() -> None:
    modules = sorted(SOURCES.glob("*.js"))
    assert len(modules) > 10
    for path in modules:
        text = path.read_text()
        imports = [line for line in text.splitlines() if line.startswith("import ")]
        assert len(imports) == len(IMPORT.findall(text)), path.name
        assert all((SOURCES / name).is_file() for name in IMPORT.findall(text)), path.name
        assert "window.grid" not in text, path.name
    # Relative imports of collected modules need the collected files under their own
    # names: a manifest storage would hash them (and must rewrite the imports).
    assert "Manifest" not in settings.STORAGES["staticfiles"]["BACKEND"]


@pytest.mark.parametrize("name", [page.name for page in PAGES])
def test_each_role_page_loads_its_entry_module_and_all_it_imports(
    transactional_db: None, loop: dict[str, User], browser: Browser, server: str, name: str
) -> None:
    servable_passwords()
    page_of = next(page for page in PAGES if page.name == name)
    page = log_in(browser, server, opener(page_of.roles))
    fetched: dict[str, Response] = {}  # our modules the browser fetched, by file name

    def keep(answer: Response) -> None:
        if answer.request.resource_type == "script" and "/static/" in answer.url:
            fetched.setdefault(answer.url.split("/static/", 1)[1], answer)

    page.on("response", keep)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(reverse(f"map_ui:{name}"))
    assert response is not None and response.status == 200
    html = response.text()
    # The page's entry module (the data page has none), and any the page frame loads for
    # every page; each imports what it uses.
    entries = ENTRY.findall(html)
    assert name == "data" or len(entries) >= 1, entries
    # Classic scripts: only the map's libraries (vendor/), none of the project's own.
    tags = re.findall(r"<script\b[^>]*>", html)
    classic = [
        src
        for tag in tags
        if 'type="module"' not in tag
        for src in re.findall(r'\bsrc="/static/([^"]+)"', tag)
    ]
    assert all(path.startswith("vendor/") for path in classic), classic
    with contextlib.suppress(PlaywrightTimeoutError):  # a live page keeps a socket open
        page.wait_for_load_state("networkidle", timeout=5000)
    assert set(fetched) - set(classic) == set().union(*(imported(entry) for entry in entries))
    for module, answer in fetched.items():
        assert answer.status == 200, module
        assert answer.headers["content-type"].startswith("text/javascript"), module
    assert errors == []
    assert page.evaluate("() => Object.keys(window).filter((k) => k.startsWith('grid'))") == []
    page.context.close()
