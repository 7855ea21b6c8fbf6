"""A city is data, not code: no city's code, name or coordinates in live code.

The patterns come from the demo city's own files (fixtures/guangzhou): its division codes'
prefix, its Chinese and English names (with and without the 市/区 suffix) and numbers that
fall inside its boundary's bounding box. Scanned: every project app, gridmgmt, scripts,
the templates and the browser scripts (vendor code aside). Not scanned: fixtures/, tests/,
docs/, bench/ and Markdown, where the demo city belongs.
"""

from __future__ import annotations

import csv
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "guangzhou"
# Every project app (a folder with an apps.py) and the project package.
LIVE = sorted({p.parent.name for p in ROOT.glob("*/apps.py")} | {"gridmgmt"})
LIVE_FILES = [ROOT / "Makefile", ROOT / "manage.py"]
SUFFIXES = {".py", ".html", ".js", ".sh", ".txt", ".css"}
SKIP_PARTS = {"vendor", "__pycache__", "node_modules"}


@functools.cache
def _districts() -> list[dict[str, str]]:
    with (FIXTURE / "districts.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@functools.cache
def _bbox() -> tuple[float, float, float, float]:
    geometry = json.loads((FIXTURE / "440100.geojson").read_text())
    xs: list[float] = []
    ys: list[float] = []

    def walk(node: list) -> None:  # type: ignore[type-arg]
        if isinstance(node[0], int | float):
            xs.append(node[0])
            ys.append(node[1])
        else:
            for child in node:
                walk(child)

    walk(geometry["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)


@functools.cache
def _name_pattern() -> re.Pattern[str]:
    names: set[str] = set()
    for row in _districts():
        names.add(row["name"])
        names.add(row["name"].rstrip("市区"))  # 广州, 天河: the short forms people write
        names.add(rf"\b{re.escape(row['name_en'])}\b")
    chinese = [re.escape(n) for n in names if not n.startswith(r"\b")]
    english = [n for n in names if n.startswith(r"\b")]
    return re.compile("|".join(sorted(chinese + english, key=len, reverse=True)))


@functools.cache
def _code_pattern() -> re.Pattern[str]:
    city = next(row["adcode"] for row in _districts() if row["level"] == "city")
    # The city's codes share the first four digits (province and city).
    return re.compile(rf"(?<!\d){city[:4]}\d{{2}}")


NUMBER = re.compile(r"(?<![\d.])(\d{2,3}\.\d{2,})(?![\d.])")


def _coordinate_hits(line: str) -> list[str]:
    x0, y0, x1, y1 = _bbox()
    hits = []
    for text in NUMBER.findall(line):
        value = float(text)
        # Two decimals or more inside the city's longitudes or latitudes (one degree of
        # margin): a place, not a version number or a share.
        if x0 - 1 <= value <= x1 + 1 or y0 - 1 <= value <= y1 + 1:
            hits.append(text)
    return hits


def live_files() -> Iterator[Path]:
    yield from LIVE_FILES
    for folder in [*LIVE, "scripts"]:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in SUFFIXES and not SKIP_PARTS & set(path.parts):
                yield path


def scan(path: Path) -> list[str]:
    names, codes = _name_pattern(), _code_pattern()
    found = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        what = names.findall(line) + codes.findall(line) + _coordinate_hits(line)
        if what:
            found.append(f"{path.relative_to(ROOT)}:{number}: {', '.join(what)}")
    return found


def test_patterns_come_from_the_demo_city() -> None:
    """The patterns catch what they are meant to (a pattern that matches nothing would let
    every constant through)."""
    names, codes = _name_pattern(), _code_pattern()
    assert names.search("CITY = '广州市'") and names.search("天河 street")
    assert names.search("center of Guangzhou") and not names.search("guangzhou_fixture")
    assert codes.search("code='440106'") and codes.search("1440106") is None
    assert _coordinate_hits("L.map().setView([23.129, 113.264])") == ["23.129", "113.264"]
    assert _coordinate_hits("version 1.25, share 0.85, 100.0") == []


def test_the_scan_covers_live_code() -> None:
    files = {str(path.relative_to(ROOT)) for path in live_files()}
    assert "scripts/run.sh" in files
    assert "dispatch/calendar.py" in files
    assert any(f.startswith("map_ui/templates/") for f in files)
    assert any(f.startswith("map_ui/static/map_ui/") and f.endswith(".js") for f in files)
    assert not any("/vendor/" in f for f in files)


@pytest.mark.parametrize("folder", [*LIVE, "scripts", "top"])
def test_no_city_constants_in_live_code(folder: str) -> None:
    if folder == "top":
        paths = LIVE_FILES
    else:
        paths = [p for p in live_files() if p.relative_to(ROOT).parts[0] == folder]
    found = [hit for path in paths for hit in scan(path)]
    assert not found, "a city's code, name or coordinates in live code:\n" + "\n".join(found)
