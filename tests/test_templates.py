"""Django template comments `{# … #}` end on the line they start on: one that spans
lines is not a comment but text, shown at the bottom of every page that extends it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".venv", "node_modules", "var", "vendor", "test-output", ".git"}


def templates() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("templates/**/*")
        if path.is_file() and not SKIP.intersection(path.relative_to(ROOT).parts)
    ]


def test_there_are_templates_to_check() -> None:
    assert any(path.name == "base.html" for path in templates())


def test_no_template_comment_spans_lines() -> None:
    open_comments = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in templates()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if line.count("{#") > line.count("#}")
    ]
    assert open_comments == [], "use {% comment %} … {% endcomment %} for several lines"
