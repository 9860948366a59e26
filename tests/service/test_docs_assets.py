"""The registry's API pages (/docs, /redoc) work on an office intranet: every asset they load is served by the
registry itself, from files installed with it, never from the internet."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import cast
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from sync.server.registry import Registry
from sync.server.serve import BackgroundServer


class _Assets(HTMLParser):
    """Every URL a page loads: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def assets_of(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    # The Swagger UI page also names the schema and its scripts inside an inline script.
    quoted = re.findall(r"""(?:url|spec-url|src|href)['"]?\s*[:=]\s*['"]([^'"]+)['"]""", html)
    return parser.urls + quoted


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """The registry's HTTP server on loopback (the pages read nothing of a registry's state)."""
    server = BackgroundServer(cast(Registry, None)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            yield http
    finally:
        server.stop()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_pages_load_every_asset_from_the_registry_itself(client: httpx.Client, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert not re.search(r"https?://", html), "the page names an address of its own, maybe outside"
    urls = assets_of(html)
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, "no script found on the page"
    base = str(client.base_url)
    for url in urls:
        absolute = urljoin(f"{base.rstrip('/')}{page}", url)
        assert urlsplit(absolute).netloc == urlsplit(base).netloc, url
        fetched = client.get(absolute)
        assert fetched.status_code == 200, url
        assert fetched.content, url


def test_the_docs_page_loads_a_swagger_ui_that_reads_openapi_3_1(client: httpx.Client) -> None:
    html = client.get("/docs").text
    (script,) = {u for u in assets_of(html) if u.endswith("swagger-ui-bundle.js")}
    bundle = client.get(script).text
    # Swagger UI renders OpenAPI 3.1 (what FastAPI writes) from version 5 on; version 4 shows an error instead.
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    assert re.search(r"""["']5\.\d+\.\d+["']""", bundle)
    css = next(u for u in assets_of(html) if u.endswith(".css"))
    assert "swagger-ui" in client.get(css).text


def test_the_asset_folder_lists_nothing_and_refuses_paths_outside_it(client: httpx.Client) -> None:
    html = client.get("/docs").text
    script = next(u for u in assets_of(html) if u.endswith(".js"))
    folder = script.rsplit("/", 1)[0]
    assert client.get(f"{folder}/").status_code == 404
    assert client.get(f"{folder}/..%2F..%2Fapp.py").status_code == 404
