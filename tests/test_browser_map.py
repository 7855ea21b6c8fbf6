"""The command map in Debian's chromium reads as a map: a legend, area names as labels,
a cell's popup with its code and name, a numbered cluster where cases lie on one spot,
and no zooming past the tiles' range; it opens on the user's area at once."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Browser, Response, Route, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from layers.models import Area
from map_ui.pages.maps import MAX_ZOOM, fitting_zoom
from tests.browser import log_in, on_page, screenshot, servable_passwords
from tests.cities import STEP
from tests.loop import INSPECTOR_CELL, report
from tests.servers import server_log

DESKTOP = {"width": 1400, "height": 900}


def test_the_command_map_has_a_legend_labels_popups_clusters_and_a_zoom_limit(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    for _ in range(3):  # three reports from the same spot: one cluster of 3
        # 街面秩序: dispatched to the street office at once, so on its board too.
        answer = report(loop["inspector"], small_city, category="0501")
        assert answer.status_code == 201, answer.content.decode()
    servable_passwords()  # after the reports: it logs their client out
    cell = small_city[INSPECTOR_CELL]
    page = log_in(browser, server, "city", viewport=DESKTOP)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/map/command/")

    legend = page.locator("[data-legend]")
    expect(legend).to_be_visible()
    expect(legend).to_contain_text("图例")
    expect(legend.locator("[data-legend-item='cases']")).to_contain_text("案件")
    expect(legend.locator("[data-legend-item='deadline-overdue']")).to_contain_text("超期")
    expect(legend.locator("[data-legend-item='ring-signed']")).to_be_visible()

    # The page ready: its first labels drawn (the areas' names at the city's zoom).
    expect(page.locator(".map-label").first).to_be_visible(timeout=20_000)

    # Zoomed in on the inspector's cell: its name is a label, the cases a cluster of 3.
    # The first label and cluster requests there are refused as an overloaded server
    # refuses (503): the map asks again by itself, without being moved.
    refused: list[str] = []

    def overloaded_once(route: Route) -> None:
        if any(route.request.url.startswith(url) for url in refused):
            route.continue_()
            return
        refused.append(route.request.url.split("?")[0])
        route.fulfill(status=503, json={"detail": "busy", "code": "unavailable"})

    page.route("**/map/tiles/labels.json?z=16*", overloaded_once)
    page.route("**/map/tiles/stacks.json?z=16*", overloaded_once)
    centre = cell.geom.centroid

    def labels_answered(response: Response) -> bool:
        return "/map/tiles/labels.json?z=16" in response.url and response.status == 200

    # The labels' answer awaited for up to 30 s: a full suite on a busy CI machine has
    # taken longer than the 5 s of expect() to answer it. Every overlay answer is kept
    # so that a failure says what the page asked and what the server answered.
    overlays: list[str] = []
    page.on(
        "response",
        lambda r: overlays.append(f"{r.status} {r.url}") if "/map/tiles/" in r.url else None,
    )
    try:
        with page.expect_response(labels_answered, timeout=30_000):
            page.evaluate(
                on_page("([lat, lon]) => $map.setView([lat, lon], 16, {animate: false})"),
                [centre.y, centre.x],
            )
    except PlaywrightTimeoutError:
        answers = "\n".join(overlays)
        raise AssertionError(
            f"no labels at z=16; the map's answers:\n{answers}\nthe server's log:\n"
            f"{server_log(server)[-4000:]}"
        ) from None
    label = page.locator(f".map-label[data-label='{cell.code}']")
    expect(label).to_have_text(cell.name)
    cluster = page.locator(".case-stack [data-count='3']")
    expect(cluster).to_have_text("3")
    assert sorted(url.rsplit("/", 1)[1] for url in refused) == ["labels.json", "stacks.json"]

    # The cells layer on; a click inside the cell (beside the cluster) opens its popup.
    # Exactly "网格": another layer's name (在岗网格员) holds the word too.
    page.locator(".leaflet-control-layers").get_by_role("checkbox", name="网格", exact=True).check()
    expect(legend.locator("[data-legend-item='cells']")).to_be_visible()
    page.wait_for_timeout(500)  # the cells' tiles
    box = page.evaluate(
        on_page("""([lat, lon]) => {
             const p = $map.latLngToContainerPoint([lat, lon]);
             const r = $map.getContainer().getBoundingClientRect();
             return [r.left + p.x, r.top + p.y];
           }"""),
        [centre.y + STEP / 4, centre.x + STEP / 4],
    )
    page.mouse.click(box[0], box[1])
    popup = page.locator(f".map-popup[data-layer='cells'][data-id='{cell.pk}']")
    expect(popup).to_contain_text(cell.code)
    expect(popup).to_contain_text(cell.name)
    assert cell.parent is not None
    expect(popup).to_contain_text(cell.parent.name)  # its community
    screenshot(page, "command-map-cell-popup")

    # Components at city zoom are not drawn: the legend says to zoom in.
    page.locator(".leaflet-control-layers label", has_text="部件").locator("input").check()
    page.evaluate(on_page("$map.setZoom(12, {animate: false})"))
    expect(legend.locator("[data-hint='zoom-in']")).to_have_text("放大地图以查看部件")
    page.evaluate(on_page("$map.setZoom(14, {animate: false})"))
    expect(legend.locator("[data-hint='zoom-in']")).to_have_count(0)

    # Zooming in stops at the tiles' range: no blank grey square past it.
    page.evaluate(on_page("$map.setZoom(22, {animate: false})"))
    assert page.evaluate(on_page("$map.getZoom()")) == MAX_ZOOM
    expect(page.locator(".leaflet-control-zoom-in")).to_have_class(
        "leaflet-control-zoom-in leaflet-disabled"
    )
    # Nor far out of the city, nor away from it.
    city = small_city["440100"]
    assert page.evaluate(on_page("$map.getMinZoom()")) == fitting_zoom(city.geom.extent) - 1
    page.evaluate(on_page("$map.setView([0, 0], 3, {animate: false})"))
    lat, lon = page.evaluate(on_page("[$map.getCenter().lat, $map.getCenter().lng]"))
    x0, y0, x1, y1 = city.geom.extent
    assert x0 - (x1 - x0) <= lon <= x1 + (x1 - x0) and y0 - (y1 - y0) <= lat <= y1 + (y1 - y0)
    screenshot(page, "command-map-readable")
    assert errors == []

    # The street board draws its cases as markers of its own: those on one spot, too,
    # are one numbered cluster, and its legend names them.
    board = log_in(browser, server, "street", viewport=DESKTOP)
    board.on("pageerror", lambda error: errors.append(str(error)))
    board.goto("/map/street/")
    expect(board.locator(".case-marker[data-case]")).to_have_count(3)
    board.evaluate(
        on_page("([lat, lon]) => $map.setView([lat, lon], 16, {animate: false})"),
        [centre.y, centre.x],
    )
    expect(board.locator(".case-stack [data-count='3']")).to_have_text("3")
    expect(board.locator("[data-legend-item='markers']")).to_contain_text("案件")
    board.locator(".case-stack").click()
    expect(board.locator(".map-popup[data-layer='stack'] a[data-case]")).to_have_count(3)
    assert errors == []


def test_a_view_set_while_the_page_opens_is_kept(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    # A view set as soon as the map exists (a search result, a GPS fix) is kept, not
    # undone by an opening animation that ends after it.
    servable_passwords()
    centre = small_city[INSPECTOR_CELL].geom.centroid
    page = log_in(browser, server, "city", viewport=DESKTOP)
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
