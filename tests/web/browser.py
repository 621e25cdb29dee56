"""Playwright on Debian's Chromium (never a downloaded browser), a phone-sized page, and
helpers: screenshots under test-artifacts/, axe-core checks, no request leaving the site."""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
AXE = ROOT / "static" / "vendor" / "axe-core" / "axe.min.js"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}
TILE_HOST = "tile.openstreetmap.org"

sync_api = pytest.importorskip("playwright.sync_api")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (run scripts/ensure-browser)", allow_module_level=True)


T = TypeVar("T")


def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run database code while Playwright's event loop runs in this thread: in a thread of its
    own (Django refuses the ORM inside a running loop), whose connection is closed after."""

    def run() -> T:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(run).result()


@contextmanager
def browser_page(
    base_url: str, *, geolocation: dict[str, float] | None = None
) -> Iterator[tuple[Any, list[str]]]:
    """A page on a phone-sized viewport, at ``geolocation`` (granted) when given. Requests
    anywhere but the site fail and are listed (map tiles too: pages must work without them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, base_url=base_url
        )
        if geolocation is not None:
            context.grant_permissions(["geolocation"])
            context.set_geolocation(geolocation)

        def route(request_route: Any) -> None:
            url = request_route.request.url
            if url.startswith(base_url) or url.startswith("data:") or url.startswith("blob:"):
                request_route.continue_()
            else:
                outside.append(url)
                request_route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page, outside
        finally:
            context.close()
            browser.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document)")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} "
        f"at {[node['target'] for node in violation['nodes']][:3]}"
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def only_tiles(outside: list[str]) -> list[str]:
    """Requests that left the site for anything but map tiles (there must be none)."""
    return [url for url in outside if TILE_HOST not in url]
