"""What Open311 shows the public (docs/open311.md, "Reading requests").

Without an api_key, GET requests is read by anyone on the internet, so:
- only cases of the sources named by OPEN311_PUBLIC_SOURCES are listed (inspector
  reports and Open311's own requests by default; 12345 tickets, where a caller tells the
  operator their troubles on the phone, never unless the city says so);
- phone and ID numbers in any free text (description, address) are masked as the rest
  of the system masks them (layers.masking): 11-digit mobiles with or without +86 and
  separators, landlines with their area code, bare 7–8 digit local numbers, 18-digit ID
  numbers. Names cannot be told from other words and are not looked for;
- points are rounded to OPEN311_PUBLIC_DECIMALS decimals (3 ≈ 100 m), and so are
  coordinates written in a text (an address given as 经纬度 30.287459, 120.153576).
Component codes (16 digits) and area codes (6–15 digits, with no separator inside a
run of 12 or more) stay readable: they name public things.
"""

from __future__ import annotations

import re

from django.conf import settings

from layers.masking import mask_id_number, mask_phone

_NOT_DIGIT_BEFORE = r"(?<![0-9])"
_NOT_DIGIT_AFTER = r"(?![0-9])"
# One pattern, tried left to right: an ID number (17 digits and a check digit), a
# mobile (optionally +86/0086, with spaces or dashes as people write them), a landline
# with its area code (optionally in brackets), a bare local number of 7 or 8 digits.
_NUMBERS = re.compile(
    _NOT_DIGIT_BEFORE
    + r"(?:"
    + r"(?P<id>[1-9][0-9]{16}[0-9Xx])"
    + r"|(?P<mobile>(?:(?:\+|00)?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2})"
    + r"|(?P<landline>[(（]?0[1-9][0-9]{1,2}[)）]?[- ]?[2-9][0-9]{6,7})"
    + r"|(?P<local>[2-9][0-9]{6,7})"
    + r")"
    + _NOT_DIGIT_AFTER
)
# A decimal with more places than the public precision: a coordinate written out.
_COORDINATE = re.compile(r"(?<![0-9.])(-?[0-9]{1,3})\.([0-9]{4,})(?![0-9])")


def public_sources() -> list[str]:
    return list(settings.OPEN311_PUBLIC_SOURCES)


def public_decimals() -> int:
    return max(0, int(settings.OPEN311_PUBLIC_DECIMALS))


def mask_numbers(text: str) -> str:
    """`text` with its phone and ID numbers masked."""
    return _NUMBERS.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    found = match.group(0)
    if match.group("id"):
        return mask_id_number(found)
    digits = re.sub(r"[^0-9]", "", found)
    if match.group("mobile"):
        return mask_phone(digits[-11:])
    return mask_phone(digits)


def public_text(text: str) -> str:
    """Free text as the public reads it: numbers masked, coordinates coarsened."""
    places = public_decimals()

    def coarser(match: re.Match[str]) -> str:
        whole, fraction = match.groups()
        return f"{whole}.{fraction[:places]}" if places else whole

    # Coordinates first: the places of a long fraction would read as a local number.
    return mask_numbers(_COORDINATE.sub(coarser, text))


def public_coordinate(value: float) -> float:
    return round(value, public_decimals())
