"""The message catalogues in locale/ are the one source of the interface's translations.

The interface is written in Simplified Chinese; `locale/en/…/django.po` holds its English,
`locale/zh_Hans/…/django.po` the Chinese of the few messages written in English (API errors,
the admin's own titles). Translate by editing those files.

    .venv/bin/python scripts/translations.py

extracts the messages from the code (Django's `makemessages`), checks both catalogues and
compiles them (`compilemessages`). It exits 1 and lists, with where each comes from, every
message that is untranslated, fuzzy (makemessages' guess from a similar old message: to be
checked and its flag removed), or whose English mixes in Chinese. `make test` runs it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "zh_Hans")
CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff5e]")
HEADER_DATE = re.compile(r'^"POT-Creation-Date: [^"]*"$', re.M)


def catalogue(language: str) -> Path:
    return ROOT / "locale" / language / "LC_MESSAGES" / "django.po"


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True)


def extract() -> None:
    """makemessages, keeping each catalogue's creation date: a run that finds no new
    message leaves the files as they were."""
    dates = {}
    for language in LANGUAGES:
        found = HEADER_DATE.search(catalogue(language).read_text(encoding="utf-8"))
        dates[language] = found.group(0) if found else None
    # Files, not lines: a message's place is kept without a change at every edit above it.
    manage("makemessages", "--no-obsolete", "--add-location=file", "--verbosity", "0", *_each("-l"))
    for language, date in dates.items():
        path = catalogue(language)
        text = path.read_text(encoding="utf-8")
        found = HEADER_DATE.search(text)
        if date is not None and found is not None:
            path.write_text(text.replace(found.group(0), date, 1), encoding="utf-8")


def _each(flag: str) -> list[str]:
    return [part for language in LANGUAGES for part in (flag, language)]


def problems(language: str, path: Path | None = None) -> list[str]:
    """What is wrong in one catalogue. The English needs every message; the Chinese only
    those not written in Chinese (the others are their own translation)."""
    found = []
    for entry in polib.pofile(str(path or catalogue(language))):
        if entry.obsolete:
            continue
        where = ":".join(part for part in entry.occurrences[0] if part) if entry.occurrences else ""
        texts = [entry.msgstr] if not entry.msgid_plural else list(entry.msgstr_plural.values())
        if "fuzzy" in entry.flags:
            found.append(
                f"{language}: fuzzy (check it, then remove the flag): {entry.msgid!r} {where}"
            )
        elif language == "en" and not entry.translated():
            found.append(f"en: untranslated: {entry.msgid!r} {where}")
        elif language == "en" and any(CHINESE.search(text) for text in texts):
            found.append(f"en: Chinese in the English: {entry.msgid!r} → {texts[0]!r} {where}")
        elif language != "en" and not CHINESE.search(entry.msgid) and not entry.translated():
            found.append(f"{language}: untranslated: {entry.msgid!r} {where}")
    return found


def main() -> int:
    extract()
    found = [line for language in LANGUAGES for line in problems(language)]
    manage("compilemessages", "--verbosity", "0", *_each("-l"))
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} message(s) to translate in locale/*/LC_MESSAGES/django.po")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
