"""Address text as the geocoder compares it: one normal form for stored standard addresses
and for what a 12345 operator types.

`normalise_address` is the definition; `normalise_addresses` gives the same answers for a
whole column at once (the bulk import's path). Both sides of a comparison go through the
same function, so a rule here only has to be consistent, not linguistically perfect:
"八一路" becoming "81路" does no harm when the query becomes "81路" too.

The normal form is words separated by single spaces: an administrative or road name ends
at its suffix (省 市 区 县 镇 乡 路 街 道 巷), a number is a word of its own with its
unit (栋, 单元, 楼, 室 …). pg_trgm pads every word, so a house number matches as a whole
("12" shares no trigram with "123" or "312"), and a query that leaves out the city and
district still matches the words it has.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

# Traditional and variant forms that callers and older registers use → the simplified
# form of the standard address register; financial (大写) numerals → ordinary ones.
_VARIANT_PAIRS: Final = (
    "號号 廣广 區区 東东 門门 馬马 華华 園园 龍龙 灣湾 鳳凤 興兴 樓楼 層层 棟栋 舊旧 廠厂 莊庄 "
    "寶宝 豐丰 陽阳 雲云 嶺岭 橫横 場场 鄉乡 縣县 鎮镇 裡里 裏里 紅红 後后 頭头 環环 邊边 進进 "
    "黃黄 陳陈 劉刘 濱滨 廟庙 齊齐 條条 體体 開开 發发 學学 醫医 電电 車车 溝沟 崗岗 嶼屿 峽峡 "
    "濟济 滙汇 匯汇 壩坝 島岛 臺台 麗丽 圍围 壇坛 館馆 鐘钟 鋼钢 農农 廳厅 橋桥 灣湾 "
    "壹一 贰二 貳二 叁三 參三 肆四 伍五 陆六 陸六 柒七 捌八 玖九 拾十 佰百 仟千"
)
_VARIANTS: Final = str.maketrans({pair[0]: pair[1] for pair in _VARIANT_PAIRS.split()})


_NUMERALS: Final = "〇零一二两三四五六七八九十百千幺"
_DIGIT_VALUE: Final = {
    "〇": 0, "零": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_UNIT_VALUE: Final = {"十": 10, "百": 100, "千": 1000}
# Units a number carries in an address; a numeral run is converted only before one of
# these (or after 之/第), so names such as 三元里 or 五山路 keep their characters.
_NUMBER_UNITS: Final = "单元|号楼|[号栋幢座楼层室房期弄巷路街横]"
_NUMERAL_RUN: Final = re.compile(
    rf"[{_NUMERALS}]+(?=(?:{_NUMBER_UNITS}))|(?<=[之第])[{_NUMERALS}]+"
)

# What callers add around an address and the register never says.
_NOISE: Final = re.compile("附近|旁边|对面|门口|楼下|隔壁|周边|一带|左右|大概|这里|那里|这边|那边")
_HASH_BLOCK: Final = re.compile(r"([0-9]+)#(?:楼|栋)?")  # 5#楼, 5# = 5栋
_NUMBER_DASH: Final = re.compile(r"([0-9])[-~—](?=[0-9])")  # 123-1号 = 123号之1
_ORDINAL: Final = re.compile(r"第([0-9]+)")
_BLOCK: Final = re.compile(r"([0-9]+|[a-z]+)(?:号楼|幢|座)")  # 5号楼, 5幢, 5座, a座 = 5栋, a栋
# One word per match: a number with its unit (a bare house number loses its 号), a Latin
# word, a name up to its suffix, or the rest of a name. RE2 (pyarrow) and Python's re
# pick the same matches for it; groups that take no part are replaced by "" in both.
_WORD: Final = (
    r"([0-9]+)号?(单元|[栋楼层室房期弄巷路街]?)"
    r"|([a-z]+|[^0-9a-z]*?[省市区县镇乡路街道巷]|[^0-9a-z]+)"
)
_WORD_RE: Final = re.compile(_WORD)
_WORD_SPACED: Final = r"\1\2\3 "
# A leading province and city name: the same on every address of a deployment, so it
# tells nothing apart, and a caller seldom says it. Two to four characters before the
# suffix, so that 市桥路 (a road) keeps its 市.
_CITY: Final = r"^(?:[^ ]{2,3}省 )?(?:[^ ]{2,4}市 )?"
_CITY_RE: Final = re.compile(_CITY)

# Text that normalise_addresses() may treat without Python holds basic CJK ideographs
# and ASCII letters and digits only, and none of the characters or patterns the rules
# above rewrite. Everything else (rare in a standard register) goes through
# normalise_address.
_VARIANT_CHARS: Final = "".join(sorted({pair[0] for pair in _VARIANT_PAIRS.split()}))
_NEEDS_RULES: Final = (
    r"[^0-9A-Za-z\x{4E00}-\x{9FFF}]"
    f"|[{_VARIANT_CHARS}]|[{_NUMERALS}]+(?:{_NUMBER_UNITS})|之[{_NUMERALS}]|第[{_NUMERALS}0-9]"
    f"|{_NOISE.pattern}|(?:[0-9]+|[A-Za-z]+)(?:号楼|幢|座)"
)


def normalise_address(text: str) -> str:
    """The normal form of an address, for trigram comparison.

    Full-width characters become half-width, traditional and variant characters
    simplified, Chinese numerals before a unit Arabic, 号楼/幢/座/# a block (栋), a house
    number loses its 号; spaces, punctuation and words such as 附近 are dropped; the
    result is words separated by single spaces.

    >>> normalise_address("临江市东湖区中山路123号明珠花园5栋")
    '东湖区 中山路 123 明珠花园 5栋'
    >>> normalise_address("中山路一百二十三号 明珠花园五座")
    '中山路 123 明珠花园 5栋'
    >>> normalise_address("江南省临江市ＺＨＯＮＧ山路１２３號，明珠花園5#樓附近")
    'zhong 山路 123 明珠花园 5栋'
    >>> normalise_address("中山大道西幺零八号之二")
    '中山大道 西 108 之 2'
    """
    s = unicodedata.normalize("NFKC", text).translate(_VARIANTS).lower()
    s = _HASH_BLOCK.sub(r"\1栋", s)
    s = _NUMBER_DASH.sub(r"\1之", s)
    s = "".join(ch for ch in s if unicodedata.category(ch)[0] in "LN")
    s = _NOISE.sub("", s)
    s = _NUMERAL_RUN.sub(lambda m: str(chinese_number(m.group())), s)
    s = _ORDINAL.sub(r"\1", s)
    s = _BLOCK.sub(r"\1栋", s)
    s = _WORD_RE.sub(_WORD_SPACED, s).rstrip(" ")
    return _CITY_RE.sub("", s, count=1)


def chinese_number(numerals: str) -> int:
    """The value of a run of Chinese numerals, as people say house numbers.

    >>> [chinese_number(n) for n in ("一百二十三", "十二", "一百零五", "幺二三", "一百五", "两千")]
    [123, 12, 105, 123, 150, 2000]
    """
    if not any(ch in _UNIT_VALUE for ch in numerals):  # read digit by digit: 幺二三
        return int("".join(str(_DIGIT_VALUE[ch]) for ch in numerals))
    total, digit, unit, gap = 0, None, 1, False
    for ch in numerals:
        if ch in _UNIT_VALUE:
            unit = _UNIT_VALUE[ch]
            total += (1 if digit is None else digit) * unit
            digit, gap = None, False
        elif _DIGIT_VALUE[ch] == 0:
            gap = True  # 一百零五: the 五 is units
        else:
            digit = _DIGIT_VALUE[ch]
    if digit is not None:
        # Spoken short form: a last digit straight after 百 or 千 is the next place down
        # (一百五 = 150, 两千三 = 2300).
        total += digit * (unit // 10 if unit >= 100 and not gap else 1)
    return total


def normalise_addresses(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """normalise_address() of every value, vectorized: plain rows (the great majority of
    a register) through pyarrow's compute kernels, the others through Python."""
    texts = pc.fill_null(texts, "")
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    rules = pc.match_substring_regex(texts, _NEEDS_RULES)
    out = pc.ascii_lower(texts)
    out = pc.replace_substring_regex(out, _WORD, _WORD_SPACED)
    out = pc.utf8_rtrim(out, characters=" ")
    out = pc.replace_substring_regex(out, _CITY, "", max_replacements=1)
    if pc.any(rules).as_py():
        slow = pc.filter(texts, rules).to_pylist()
        replacement = pa.array([normalise_address(t) for t in slow], pa.string())
        out = pc.replace_with_mask(out, rules, replacement)
    return out
