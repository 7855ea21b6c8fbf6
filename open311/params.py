"""Reading GeoReport v2 parameters, writing its dates.

Dates are the W3C profile of ISO 8601 the specification requires, always with a time
zone: written in the city's time (Asia/Shanghai, +08:00); read with Z or an offset, or
as a bare date (YYYY-MM-DD, midnight in the city's time). A time without a zone is
refused: whose 08:00 it means cannot be known.

"Optional" parameters follow the specification: an empty one is the same as none.
"""

from __future__ import annotations

import datetime as dt
import re

from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from layers.datum import Datum
from layers.geoinput import BadCoordinates, check_lonlat
from open311.errors import BadRequest

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)
# attribute[code]=v, attribute[code][]=v (a multivaluelist sends one per value)
_ATTRIBUTE = re.compile(r"attribute\[([^\[\]]+)\](\[\])?")


def w3c(value: dt.datetime | None) -> str | None:
    """2026-11-23T10:00:00+08:00: seconds, the city's offset."""
    return None if value is None else timezone.localtime(value).isoformat(timespec="seconds")


def text(params: QueryDict, name: str, *, max_length: int | None = None) -> str:
    value = params.get(name, "").strip()
    if "\x00" in value:
        # PostgreSQL cannot store it: refused here, before anything is saved.
        raise BadRequest(_("%(name)s 含有 NUL 字符（\\0），无法处理。") % {"name": name})
    if max_length is not None and len(value) > max_length:
        raise BadRequest(
            _("%(name)s 最多 %(max)d 个字符，收到 %(n)d 个。")
            % {"name": name, "max": max_length, "n": len(value)}
        )
    return value


def datetime_(params: QueryDict, name: str) -> dt.datetime | None:
    value = text(params, name)
    if not value:
        return None
    if _DATE.fullmatch(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise _bad_date(name, value) from None
        return timezone.make_aware(dt.datetime.combine(day, dt.time()))
    if not _DATETIME.fullmatch(value):
        raise _bad_date(name, value)
    try:
        return dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise _bad_date(name, value) from None


def _bad_date(name: str, value: str) -> BadRequest:
    return BadRequest(
        _(
            "%(name)s=%(value)s 不是带时区的 W3C 日期时间，例如 2026-11-23T10:00:00+08:00 或 "
            "2026-11-23T02:00:00Z。"
        )
        % {"name": name, "value": value[:40]}
    )


def coordinates(params: QueryDict) -> tuple[float | None, float | None]:
    """(lat, long): WGS 84 by the standard, through the input boundary (layers.geoinput:
    plain decimal numbers, finite, in range); (None, None) when neither is given."""
    lat, long = text(params, "lat"), text(params, "long")
    if not lat and not long:
        return None, None
    if not lat or not long:
        raise BadRequest(_("lat 和 long 须同时提供。"))
    try:
        x, y = check_lonlat(long, lat, Datum.WGS84, fields=("long", "lat"))
    except BadCoordinates as error:
        raise BadRequest(error.message) from None
    return y, x


def integer(params: QueryDict, name: str, *, default: int, low: int, high: int) -> int:
    value = text(params, name)
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(
            _("%(name)s 应为 %(low)d 到 %(high)d 之间的整数，收到 %(value)s。")
            % {"name": name, "low": low, "high": high, "value": value[:40]}
        )
    return int(value)


def boolean(params: QueryDict, name: str) -> bool:
    value = text(params, name).lower()
    if value in ("", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise BadRequest(_("%(name)s 应为 true 或 false。") % {"name": name})


def listed(params: QueryDict, name: str) -> list[str]:
    """A comma-delimited parameter, which may also be given several times."""
    values = [part.strip() for value in params.getlist(name) for part in value.split(",")]
    return list(dict.fromkeys(value for value in values if value))


def attributes(params: QueryDict) -> dict[str, list[str]]:
    """attribute[code]=value pairs: several values of one code (a multivaluelist) come as
    attribute[code][]=v1&attribute[code][]=v2, or as the same key repeated."""
    found: dict[str, list[str]] = {}
    for key in params:
        if not key.startswith("attribute"):
            continue
        match = _ATTRIBUTE.fullmatch(key)
        if match is None:
            raise BadRequest(
                _("无法识别的参数 %(key)s：附加字段应写作 attribute[代码]=值。") % {"key": key[:60]}
            )
        values = [value.strip() for value in params.getlist(key) if value.strip()]
        if "\x00" in key or any("\x00" in value for value in values):
            raise BadRequest(_("%(name)s 含有 NUL 字符（\\0），无法处理。") % {"name": key[:60]})
        if values:
            found.setdefault(match.group(1), []).extend(values)
    return found
