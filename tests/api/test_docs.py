"""The interactive documentation at /api/v1/docs: served to anyone, from our own static files, and nothing
on it that the site's Content-Security-Policy would block."""

from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders

from tests.api.support import API


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []
        self.styles: list[str] = []
        self.inline_styles = 0
        self.inline_handlers = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.inline_styles += "style" in attributes
        self.inline_handlers += any(name.startswith("on") for name in attributes)
        if tag == "script":
            self.scripts.append(attributes)
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.styles.append(attributes["href"])
        elif tag == "style":
            self.inline_styles += 1


def _page(client) -> _Page:
    response = client.get(f"{API}/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = _Page()
    page.feed(response.content.decode())
    return page


def test_the_docs_are_served_to_anyone_under_the_sites_csp(client):
    response = client.get(f"{API}/docs")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in settings.CONTENT_SECURITY_POLICY


def test_every_script_and_style_is_ours_and_none_is_inline(client):
    page = _page(client)

    sources = [script["src"] for script in page.scripts if "src" in script]
    assert sources == [
        f"{settings.STATIC_URL}ninja/swagger-ui-bundle.js",
        f"{settings.STATIC_URL}ninja/swagger-ui-init.js",
    ]
    # The only script without a source is the settings, as a JSON data block: a browser does not run it.
    assert [script for script in page.scripts if "src" not in script] == [
        {"id": "swagger-settings", "type": "application/json"}
    ]
    assert page.styles == [f"{settings.STATIC_URL}ninja/swagger-ui.css"]
    assert (page.inline_styles, page.inline_handlers) == (0, 0)
    for path in [*sources, *page.styles]:
        assert path.startswith("/") and not path.startswith("//"), path


def test_the_files_it_loads_are_static_files_collectstatic_finds(client):
    # Production serves what collectstatic gathered (WhiteNoise); ninja ships these in its package.
    page = _page(client)

    for path in [script["src"] for script in page.scripts if "src" in script] + page.styles:
        found = finders.find(path.removeprefix(settings.STATIC_URL))
        assert found and Path(found).stat().st_size > 1000, path


def test_the_page_reads_the_generated_document(client):
    page = client.get(f"{API}/docs").content.decode()

    assert '"url": "/api/v1/openapi.json"' in page
    assert client.get(f"{API}/openapi.json").json()["info"]["title"] == "Warehouse API"
