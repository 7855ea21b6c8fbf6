"""A map page opens on the user's area at once: a view set as soon as the map exists
(a click on a search result, a GPS fix, a test) is kept, not undone by an opening
animation that ends after it."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Browser

from layers.models import Area
from tests.browser import log_in, on_page, servable_passwords
from tests.loop import INSPECTOR_CELL


def test_a_view_set_while_the_page_opens_is_kept(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    centre = small_city[INSPECTOR_CELL].geom.centroid
    page = log_in(browser, server, "city", viewport={"width": 1400, "height": 900})
    page.goto("/map/command/", wait_until="commit")
    page.wait_for_function(on_page("() => $map !== undefined"), polling=10)
    opening = page.evaluate(on_page("$map.getZoom()"))
    page.evaluate(
        on_page("([lat, lon]) => $map.setView([lat, lon], 17, {animate: false})"),
        [centre.y, centre.x],
    )
    page.wait_for_load_state("load")
    page.wait_for_timeout(1000)  # longer than any zoom animation of Leaflet's (0.25 s)
    assert opening != 17
    assert page.evaluate(on_page("$map.getZoom()")) == 17
