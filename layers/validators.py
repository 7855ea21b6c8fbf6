"""Checks for the codes that key the base layers.

Citizen ID numbers (GB 11643-1999), unified social credit codes (GB 32100-2015), component
IDs, grid area codes and phone numbers. Each code has a scalar check for the interactive
paths, which raises `InvalidCode` with a message a person can act on, and the bulk codes
have a vectorized check for imports of millions of rows, which returns a validity mask and
the very same message for every rejected row (both paths render one template per rule).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from numpy.typing import NDArray

Mask = NDArray[np.bool_]
Reasons = NDArray[np.object_]
TextColumn = NDArray[Any] | pd.Series


class InvalidCode(ValueError):
    """A code that breaks its standard's rules; the message says what is wrong."""


# Province-level prefixes of GB/T 2260 division codes; 71, 81, 82 and 83 are issued to
# residents of Taiwan, Hong Kong and Macao (83 on residence permits for Taiwan residents).
# The first digit is the region: 1 North, 2 Northeast, 3 East, 4 Central-South,
# 5 Southwest, 6 Northwest.
_PROVINCE_RANGES: Final = ((11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65), (71, 71))
PROVINCE_CODES: Final = frozenset(
    {str(code) for low, high in _PROVINCE_RANGES for code in range(low, high + 1)}
    | {"81", "82", "83"}
)
SHANGHAI_TZ: Final = ZoneInfo("Asia/Shanghai")

ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS: Final = "10X98765432"
EARLIEST_BIRTH: Final = date(1900, 1, 1)

CREDIT_CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Registration authority (position 1) → the organisation types (position 2) it issues.
CREDIT_TYPES: Final[Mapping[str, str]] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 群众团体, 其他
    "2": "19",  # 外交
    "3": "123459",  # 司法行政
    "4": "19",  # 文化
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",  # 旅游
    "7": "129",  # 宗教
    "8": "19",  # 工会
    "9": "123",  # 工商: 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室
    "N": "1239",  # 农业
    "Y": "1",  # 其他
}
# Central-government registrations carry the division code 100000.
CREDIT_REGION_PREFIXES: Final = PROVINCE_CODES | {"10"}

# Component major classes fixed by GB/T 30428.2; minor classes are catalogue data.
COMPONENT_MAJORS: Final = frozenset({"01", "02", "03", "04", "05", "06", "99"})

_DIGITS: Final = frozenset("0123456789")
_ASCII_UPPER: Final = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)

# --- Messages: one template per rule, shared by the scalar and the vectorized checks. ---
ID_EMPTY = "身份证号码为空 (ID number is empty)"
ID_LENGTH = "身份证号码应为18位, 实为{length}位 (ID number must have 18 characters, got {length})"
ID_CHAR = "身份证号码第{position}位 '{char}' 不是数字 (character {position} must be a digit)"
ID_LAST_CHAR = "身份证号码第18位 '{char}' 应为数字或X (the last character must be a digit or X)"
ID_REGION = (
    "身份证号码地区码 {region} 无效: 没有代码为 {province} 的省份 "
    "(region code {region}: no province has code {province})"
)
ID_BIRTH_INVALID = (
    "身份证号码出生日期 {birth} 不是有效日期 (birth date {birth} is not a calendar date)"
)
ID_BIRTH_EARLY = "身份证号码出生日期 {birth} 早于1900年 (birth date {birth} is before 1900)"
ID_BIRTH_FUTURE = "身份证号码出生日期 {birth} 晚于今天 (birth date {birth} is in the future)"
ID_CHECK = (
    "身份证号码校验位错误: 应为 {expected}, 实为 {actual} "
    "(check digit: expected {expected}, got {actual})"
)

CREDIT_EMPTY = "统一社会信用代码为空 (credit code is empty)"
CREDIT_LENGTH = (
    "统一社会信用代码应为18位, 实为{length}位 (credit code must have 18 characters, got {length})"
)
CREDIT_CHAR = (
    "统一社会信用代码第{position}位 '{char}' 不是允许的字符 "
    "(character {position}: only digits and letters other than I, O, S, V, Z)"
)
CREDIT_AUTHORITY = (
    "统一社会信用代码登记管理部门代码 '{authority}' 无效 "
    "(registration authority must be one of 1-9, A, N, Y)"
)
CREDIT_TYPE = (
    "统一社会信用代码机构类别代码 '{kind}' 不属于登记管理部门 '{authority}' "
    "(organisation type for authority {authority} must be one of {allowed})"
)
CREDIT_REGION_DIGITS = (
    "统一社会信用代码第3-8位行政区划码 '{region}' 应为数字 (region code must be 6 digits)"
)
CREDIT_REGION = (
    "统一社会信用代码行政区划码 {region} 无效: 没有代码为 {province} 的省份 "
    "(region code {region}: no province has code {province})"
)
CREDIT_CHECK = (
    "统一社会信用代码校验码错误: 应为 {expected}, 实为 {actual} "
    "(check character: expected {expected}, got {actual})"
)

COMPONENT_EMPTY = "部件标识码为空 (component ID is empty)"
COMPONENT_LENGTH = (
    "部件标识码应为16位数字, 实为{length}位 (component ID must have 16 digits, got {length})"
)
COMPONENT_CHAR = "部件标识码第{position}位 '{char}' 不是数字 (character {position} must be a digit)"
COMPONENT_DISTRICT = (
    "部件标识码区划代码 {district} 无效: 没有代码为 {province} 的省份 "
    "(district code {district}: no province has code {province})"
)
COMPONENT_MAJOR = (
    "部件标识码大类代码 {major} 无效, 应为 01-06 或 99 (major class {major} must be 01-06 or 99)"
)
COMPONENT_MINOR = "部件标识码小类代码不能为 00 (minor class must not be 00)"
COMPONENT_SERIAL = "部件标识码流水号不能为 000000 (serial must start at 000001)"


# --- Scalar checks -----------------------------------------------------------------------


def id_number_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check digit of the first 17 digits of an ID number."""
    if len(first17) != 17 or not set(first17) <= _DIGITS:
        raise InvalidCode(f"需要17位数字来计算校验位 (need 17 digits, got {first17!r})")
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def validate_id_number(value: str, *, today: date | None = None) -> str:
    """The ID number normalised (trimmed, lower-case x → X), or InvalidCode saying why not.

    `today` (default: today in China) is the latest birth date accepted."""
    text = value.strip()
    if not text:
        raise InvalidCode(ID_EMPTY)
    if len(text) != 18:
        raise InvalidCode(ID_LENGTH.format(length=len(text)))
    for position, char in enumerate(text[:17], start=1):
        if char not in _DIGITS:
            raise InvalidCode(ID_CHAR.format(position=position, char=char))
    last = "X" if text[17] == "x" else text[17]
    if last not in _DIGITS and last != "X":
        raise InvalidCode(ID_LAST_CHAR.format(char=last))
    if text[:2] not in PROVINCE_CODES:
        raise InvalidCode(ID_REGION.format(region=text[:6], province=text[:2]))
    birth = text[6:14]
    try:
        born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    except ValueError:
        raise InvalidCode(ID_BIRTH_INVALID.format(birth=birth)) from None
    if born < EARLIEST_BIRTH:
        raise InvalidCode(ID_BIRTH_EARLY.format(birth=birth))
    if born > (today or china_today()):
        raise InvalidCode(ID_BIRTH_FUTURE.format(birth=birth))
    expected = id_number_check_digit(text[:17])
    if last != expected:
        raise InvalidCode(ID_CHECK.format(expected=expected, actual=last))
    return text[:17] + last


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters of a credit code."""
    if len(first17) != 17 or any(c not in CREDIT_CHARSET for c in first17):
        raise InvalidCode(
            f"需要17个代码字符来计算校验码 (need 17 credit-code characters, got {first17!r})"
        )
    total = sum(CREDIT_CHARSET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARSET[(31 - total % 31) % 31]


def validate_credit_code(value: str) -> str:
    """The credit code normalised (trimmed, upper case), or InvalidCode saying why not."""
    text = value.strip().translate(_ASCII_UPPER)
    if not text:
        raise InvalidCode(CREDIT_EMPTY)
    if len(text) != 18:
        raise InvalidCode(CREDIT_LENGTH.format(length=len(text)))
    for position, char in enumerate(text, start=1):
        if char not in CREDIT_CHARSET:
            raise InvalidCode(CREDIT_CHAR.format(position=position, char=char))
    authority, kind, region = text[0], text[1], text[2:8]
    if authority not in CREDIT_TYPES:
        raise InvalidCode(CREDIT_AUTHORITY.format(authority=authority))
    if kind not in CREDIT_TYPES[authority]:
        allowed = CREDIT_TYPES[authority]
        raise InvalidCode(CREDIT_TYPE.format(kind=kind, authority=authority, allowed=allowed))
    if not set(region) <= _DIGITS:
        raise InvalidCode(CREDIT_REGION_DIGITS.format(region=region))
    if region[:2] not in CREDIT_REGION_PREFIXES:
        raise InvalidCode(CREDIT_REGION.format(region=region, province=region[:2]))
    expected = credit_code_check_char(text[:17])
    if text[17] != expected:
        raise InvalidCode(CREDIT_CHECK.format(expected=expected, actual=text[17]))
    return text


def validate_component_code(value: str) -> tuple[str, str, str, str]:
    """(district, major, minor, serial) of a 16-digit component ID, or InvalidCode."""
    text = value.strip()
    if not text:
        raise InvalidCode(COMPONENT_EMPTY)
    if len(text) != 16:
        raise InvalidCode(COMPONENT_LENGTH.format(length=len(text)))
    for position, char in enumerate(text, start=1):
        if char not in _DIGITS:
            raise InvalidCode(COMPONENT_CHAR.format(position=position, char=char))
    district, major, minor, serial = text[:6], text[6:8], text[8:10], text[10:]
    if district[:2] not in PROVINCE_CODES:
        raise InvalidCode(COMPONENT_DISTRICT.format(district=district, province=district[:2]))
    if major not in COMPONENT_MAJORS:
        raise InvalidCode(COMPONENT_MAJOR.format(major=major))
    if minor == "00":
        raise InvalidCode(COMPONENT_MINOR)
    if serial == "000000":
        raise InvalidCode(COMPONENT_SERIAL)
    return district, major, minor, serial


def validate_area_code(value: str, tier: str) -> str:
    """The trimmed code of an area at `tier` (a layers.models.Tier value), or InvalidCode.

    District 6 digits (a GB/T 2260 code), then 3 more digits each for street, community and
    grid cell; a segment below the district may not be 000."""
    # Imported here so that this module (and the synthetic-data generators that use it)
    # can be imported by scripts without a configured Django.
    from layers.models.areas import CODE_LENGTH, Tier

    tier = Tier(tier)
    text = value.strip()
    want = CODE_LENGTH[tier]
    if not text or not set(text) <= _DIGITS:
        raise InvalidCode(f"{tier.label}编码 '{text}' 应为数字 ({tier.value} code must be digits)")
    if len(text) != want:
        raise InvalidCode(
            f"{tier.label}编码应为{want}位, 实为{len(text)}位 "
            f"({tier.value} code must have {want} digits, got {len(text)})"
        )
    if text[:2] not in PROVINCE_CODES:
        raise InvalidCode(
            f"{tier.label}编码 {text} 无效: 没有代码为 {text[:2]} 的省份 "
            f"(no province has code {text[:2]})"
        )
    for start in range(6, want, 3):
        if text[start : start + 3] == "000":
            raise InvalidCode(
                f"{tier.label}编码 {text} 第{start + 1}-{start + 3}位不能为000 "
                f"(digits {start + 1}-{start + 3} must not be 000)"
            )
    return text


_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9][0-9]{9})")
# 010 and 02x are the only three-digit area codes; all others have four digits. Real local
# numbers never start with 0 or 1, but 020-12345678 is what everyone types as an example.
_LANDLINE = re.compile(r"(0[12][0-9]|0[3-9][0-9]{2})-?([1-9][0-9]{6,7})(?:-([0-9]{1,6}))?")


def validate_phone(value: str) -> str:
    """A mainland phone number normalised: mobile '13812345678', landline '020-12345678'
    (with '-ext' if given), or InvalidCode."""
    text = re.sub(r"[\s()()]", "", value)
    if mobile := _MOBILE.fullmatch(text.replace("-", "")):
        return mobile.group(1)
    if landline := _LANDLINE.fullmatch(text):
        area, number, extension = landline.groups()
        return f"{area}-{number}" + (f"-{extension}" if extension else "")
    if text.isascii() and text.isdigit() and text.startswith("1"):
        if len(text) != 11:
            raise InvalidCode(
                f"手机号码应为11位, 实为{len(text)}位 (mobile number must have 11 digits, "
                f"got {len(text)})"
            )
        raise InvalidCode(
            f"手机号码 {text} 第二位应为3-9 (mobile numbers start with 13-19, got {text[:2]})"
        )
    raise InvalidCode(
        f"电话号码 '{value}' 无法识别: 手机号为1开头的11位数字 (如 13812345678), "
        "固话为区号-号码 (如 020-12345678) (not a mainland mobile or landline number)"
    )


def china_today() -> date:
    return datetime.now(SHANGHAI_TZ).date()


# --- Vectorized checks for bulk imports -----------------------------------------------------
#
# Values are turned into a fixed-width UCS-4 array once; viewed as uint32 it is an (n, width)
# matrix of code points, so every rule is a few whole-column NumPy operations. Messages are
# rendered only for rejected rows.


def id_check_digits_ascii(digits: NDArray[np.integer[Any]]) -> NDArray[np.uint8]:
    """ASCII codes of the check digits for an (n, 17) matrix of digit values 0-9."""
    # float32 goes through BLAS and is exact here: sums stay far below 2**24 (at most 900).
    total = digits[:, :17].astype(np.float32) @ np.array(ID_WEIGHTS, dtype=np.float32)
    return np.frombuffer(ID_CHECK_CHARS.encode(), dtype=np.uint8)[total.astype(np.int64) % 11]


def credit_check_values(values: NDArray[np.integer[Any]]) -> NDArray[np.int64]:
    """Check-character values (0-30) for an (n, 17) matrix of credit-code character values."""
    total = values[:, :17].astype(np.float32) @ np.array(CREDIT_WEIGHTS, dtype=np.float32)
    return (31 - total.astype(np.int64) % 31) % 31


def normalise_codes(values: TextColumn) -> NDArray[np.str_]:
    """Trimmed, upper-cased text of ID numbers or credit codes, as the scalar checks return
    valid ones (missing values become ''): store these, not the raw input."""
    text = _as_text(values)
    return np.strings.upper(text)


def id_numbers_valid(values: TextColumn, *, today: date | None = None) -> tuple[Mask, Reasons]:
    """For each value: is it a valid ID number, and if not, the message validate_id_number
    would raise. Missing values (None, NaN) are rejected as empty."""
    text = _as_text(values)
    cp, lengths = _code_points(text, 18)
    rejected = _Rejections(len(text))
    rejected.add(lengths == 0, ID_EMPTY)
    rejected.add(lengths != 18, ID_LENGTH, length=lengths)

    chars = _ascii(cp)
    last = chars[:, 17]
    last[last == ord("x")] = ord("X")
    digits = chars[:, :17] - 48  # uint8: anything but a digit wraps to a value above 9
    bad_char = np.empty(cp.shape, dtype=bool)
    bad_char[:, :17] = digits > 9
    bad_char[:, 17] = (last - 48 > 9) & (last != ord("X"))
    first_bad = bad_char.argmax(axis=1)
    rejected.add(
        bad_char.any(axis=1) & (first_bad < 17),
        ID_CHAR,
        position=first_bad + 1,
        char=_char_at(cp, first_bad),
    )
    rejected.add(bad_char[:, 17], ID_LAST_CHAR, char=_char_at(cp, first_bad))

    digits[rejected.bad] = 0
    rejected.add(
        ~_lookup(PROVINCE_CODES)[_number(digits, 0, 2)],
        ID_REGION,
        region=_slice(cp, 0, 6),
        province=_slice(cp, 0, 2),
    )
    birth = _number(digits, 6, 14)
    shown = _slice(cp, 6, 14)
    year, month, day = birth // 10000, birth // 100 % 100, birth % 100
    rejected.add(~_is_calendar_date(year, month, day), ID_BIRTH_INVALID, birth=shown)
    rejected.add(birth < _yyyymmdd(EARLIEST_BIRTH), ID_BIRTH_EARLY, birth=shown)
    rejected.add(birth > _yyyymmdd(today or china_today()), ID_BIRTH_FUTURE, birth=shown)

    expected = id_check_digits_ascii(digits)
    rejected.add(last != expected, ID_CHECK, expected=_chars(expected), actual=_chars(last))
    return ~rejected.bad, rejected.reasons


def credit_codes_valid(values: TextColumn) -> tuple[Mask, Reasons]:
    """For each value: is it a valid credit code, and if not, the message
    validate_credit_code would raise. Missing values are rejected as empty."""
    text = _as_text(values)
    cp, lengths = _code_points(text, 18)
    cp = np.where((cp >= ord("a")) & (cp <= ord("z")), cp - 32, cp)
    rejected = _Rejections(len(text))
    rejected.add(lengths == 0, CREDIT_EMPTY)
    rejected.add(lengths != 18, CREDIT_LENGTH, length=lengths)

    codes = _CREDIT_VALUE[_ascii(cp)]
    bad_char = codes < 0
    first_bad = bad_char.argmax(axis=1)
    rejected.add(
        bad_char.any(axis=1), CREDIT_CHAR, position=first_bad + 1, char=_char_at(cp, first_bad)
    )

    codes[rejected.bad] = 0
    authority, kind = codes[:, 0], codes[:, 1]
    rejected.add(~_CREDIT_AUTHORITY_KNOWN[authority], CREDIT_AUTHORITY, authority=_slice(cp, 0, 1))
    rejected.add(
        ~_CREDIT_ISSUES[authority, kind],
        CREDIT_TYPE,
        kind=_slice(cp, 1, 2),
        authority=_slice(cp, 0, 1),
        allowed=_CREDIT_ALLOWED[authority],
    )
    region = _slice(cp, 2, 8)
    rejected.add((codes[:, 2:8] > 9).any(axis=1), CREDIT_REGION_DIGITS, region=region)
    codes[rejected.bad] = 0
    rejected.add(
        ~_lookup(CREDIT_REGION_PREFIXES)[_number(codes, 2, 4)],
        CREDIT_REGION,
        region=region,
        province=_slice(cp, 2, 4),
    )

    expected = credit_check_values(codes)
    rejected.add(
        codes[:, 17] != expected,
        CREDIT_CHECK,
        expected=np.array(list(CREDIT_CHARSET))[expected],
        actual=_slice(cp, 17, 18),
    )
    return ~rejected.bad, rejected.reasons


def component_codes_valid(values: TextColumn) -> tuple[Mask, Reasons]:
    """For each value: is it a valid component ID, and if not, the message
    validate_component_code would raise. Missing values are rejected as empty."""
    text = _as_text(values)
    cp, lengths = _code_points(text, 16)
    rejected = _Rejections(len(text))
    rejected.add(lengths == 0, COMPONENT_EMPTY)
    rejected.add(lengths != 16, COMPONENT_LENGTH, length=lengths)

    digits = _ascii(cp) - 48
    bad_char = digits > 9
    first_bad = bad_char.argmax(axis=1)
    rejected.add(
        bad_char.any(axis=1), COMPONENT_CHAR, position=first_bad + 1, char=_char_at(cp, first_bad)
    )

    digits[rejected.bad] = 0
    rejected.add(
        ~_lookup(PROVINCE_CODES)[_number(digits, 0, 2)],
        COMPONENT_DISTRICT,
        district=_slice(cp, 0, 6),
        province=_slice(cp, 0, 2),
    )
    rejected.add(
        ~_lookup(COMPONENT_MAJORS)[_number(digits, 6, 8)],
        COMPONENT_MAJOR,
        major=_slice(cp, 6, 8),
    )
    rejected.add(_number(digits, 8, 10) == 0, COMPONENT_MINOR)
    rejected.add(_number(digits, 10, 16) == 0, COMPONENT_SERIAL)
    return ~rejected.bad, rejected.reasons


def _credit_tables() -> tuple[NDArray[np.int8], Mask, Mask, NDArray[np.str_]]:
    """Lookup tables: ASCII → character value (-1 if not allowed); which authorities
    exist; which (authority, type) pairs exist; the types allowed per authority."""
    value = np.full(128, -1, dtype=np.int8)
    value[np.frombuffer(CREDIT_CHARSET.encode(), dtype=np.uint8)] = np.arange(31)
    known = np.zeros(31, dtype=bool)
    issues = np.zeros((31, 31), dtype=bool)
    allowed = np.full(31, "", dtype="U9")
    for authority, kinds in CREDIT_TYPES.items():
        row = CREDIT_CHARSET.index(authority)
        known[row] = True
        issues[row, [CREDIT_CHARSET.index(kind) for kind in kinds]] = True
        allowed[row] = kinds
    return value, known, issues, allowed


_CREDIT_VALUE, _CREDIT_AUTHORITY_KNOWN, _CREDIT_ISSUES, _CREDIT_ALLOWED = _credit_tables()


Field = NDArray[Any] | Callable[[NDArray[np.intp]], NDArray[Any]]


class _Rejections:
    """The first failed rule of each row: later rules never overwrite an earlier reason."""

    def __init__(self, n: int) -> None:
        self.bad: Mask = np.zeros(n, dtype=bool)
        self.reasons: Reasons = np.full(n, None, dtype=object)

    def add(self, failing: Mask | np.bool_, template: str, **fields: Field) -> None:
        rows = np.flatnonzero(np.asarray(failing) & ~self.bad)
        if not rows.size:
            return
        self.bad[rows] = True
        values = {
            name: np.asarray(field(rows) if callable(field) else field[rows]).astype(str)
            for name, field in fields.items()
        }
        self.reasons[rows] = np.broadcast_to(_render(template, values), rows.shape)


def _render(template: str, fields: Mapping[str, NDArray[np.str_]]) -> NDArray[np.str_]:
    """str.format for columns: the template's literals joined with the field arrays."""
    out: NDArray[np.str_] = np.array("")
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        out = np.strings.add(out, literal)
        if name is not None:
            out = np.strings.add(out, fields[name])
    return out


def _as_text(values: TextColumn) -> NDArray[np.str_]:
    """A 1-D trimmed unicode array; missing values (None, NaN, NA) become ''."""
    array = np.asarray(values.to_numpy(dtype=object) if isinstance(values, pd.Series) else values)
    if array.ndim != 1:
        raise ValueError(f"expected a 1-D column of values, got shape {array.shape}")
    if array.dtype.kind == "S":
        array = np.strings.decode(array, "utf-8", "replace")
    elif array.dtype.kind != "U":
        missing = np.asarray(pd.isna(array), dtype=bool)
        array = np.where(missing, "", array).astype(str)
    return np.strings.strip(array)


def _code_points(text: NDArray[np.str_], width: int) -> tuple[NDArray[np.uint32], NDArray[Any]]:
    """(n, width) code points (0-padded; longer values cut) and each value's length."""
    lengths = np.strings.str_len(text)
    fixed = text.astype(f"U{width}")
    return fixed.view(np.uint32).reshape(len(text), width), lengths


def _ascii(code_points: NDArray[np.uint32]) -> NDArray[np.uint8]:
    """Code points as bytes; anything beyond ASCII becomes DEL, which no rule accepts."""
    return np.minimum(code_points, 127).astype(np.uint8)


def _number(digits: NDArray[np.integer[Any]], start: int, stop: int) -> NDArray[np.int64]:
    """The decimal number written by columns start:stop of a matrix of digit values."""
    number = np.zeros(len(digits), dtype=np.int64)
    for column in range(start, stop):
        number = number * 10 + digits[:, column]
    return number


def _chars(code_points: NDArray[np.integer[Any]]) -> NDArray[np.str_]:
    return np.ascontiguousarray(code_points, dtype=np.uint32).view("U1")


def _char_at(code_points: NDArray[np.uint32], positions: NDArray[np.intp]) -> Field:
    """A message field: the character at each row's position (built only for the rows asked)."""
    return lambda rows: _chars(code_points[rows, positions[rows]])


def _slice(code_points: NDArray[np.uint32], start: int, stop: int) -> Field:
    """A message field: characters start:stop of each row (built only for the rows asked)."""

    def field(rows: NDArray[np.intp]) -> NDArray[np.str_]:
        part = np.ascontiguousarray(code_points[rows, start:stop])
        return part.view(f"U{stop - start}").reshape(len(rows))

    return field


def _lookup(codes: frozenset[str]) -> Mask:
    """A table indexed by a 2-digit code: is the code in `codes`?"""
    table = np.zeros(100, dtype=bool)
    table[[int(code) for code in codes]] = True
    return table


def _is_calendar_date(
    year: NDArray[np.int64], month: NDArray[np.int64], day: NDArray[np.int64]
) -> Mask:
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    days = month_days[np.clip(month, 0, 12)] + (leap & (month == 2))
    return (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)


def _yyyymmdd(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day
