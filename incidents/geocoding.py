"""Hotline geocoding (地址匹配): a caller's words → the standard addresses they most
likely mean, best first.

1. The query is put in the normal form of the stored addresses
   (layers.addresses.normalise_address): half-width, simplified, Arabic house numbers,
   no punctuation, words separated by spaces, no city prefix. Its words are sorted into
   district names, names (road, estate) and numbers (house number, block).
2. Candidates come first from the query's road name: the words of its core before its
   first number (某某路 in 某某路 123 某某小区). The road names of the stored addresses
   (layers_addressname, a few thousand rows kept by triggers, migration layers 0007)
   that it is word-similar to are found by trigram, and each one's addresses through a
   B-tree range of search_text (the numbers near the query's: "<road name> 43…"), a
   few dozen rows filtered by the conditions below. When that finds nothing, or fewer
   than ROAD_MIN_ROWS for a road name of SHORT_ROAD characters, the stored road names
   one slip away from the query's (a character replaced or left out: LIKE patterns,
   one_slip_patterns) are read the same way, their addresses added. Only when both
   find nothing (no number, no road name before it, a road name two slips away), or
   still too few for a short one, do they come from the trigram GIN index on
   Address.search_text, in one index scan over every address (9–13 ms of PostgreSQL
   CPU at a million addresses):
   - the query without its district must be word-similar to the address
     (`core <% search_text`, pg_trgm.word_similarity_threshold). A district is shared
     by a tenth of the city, so it is left out here; it counts in the ranking;
   - when the query has a number, its names and its numbers must each share something
     with the address (`<<%`, a low strict_word_similarity_threshold). Without these two
     conditions every address with the same house number, or every number on the same
     road, would pass the first one and be read from the table.
   The CANDIDATES best by word similarity of the whole query come back, with their
   placement codes joined to those few rows only.
3. They are re-ranked in Python by the mean of word similarity and an edit-distance
   similarity in which a wrong character costs less than a missing one (a pinyin input
   method's homophone is the commonest slip). Ties go to the higher word similarity,
   then trigram similarity, then the lower address code, so the order never depends on
   the table's physical order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from layers.addresses import normalise_address
from layers.kept_statements import kept_cursor
from layers.models import Address, Area, Tier

MAX_QUERY_LENGTH = 200  # as Address.text
MIN_QUERY_CHARS = 2  # after normalisation, spaces not counted
MAX_LIMIT = 20
CANDIDATES = 20  # rows the index query returns for the re-rank
# Word similarity the core of the query must reach. At 0.5 a query whose road name has
# one wrong or missing character still finds its address; a second pass at the lower
# threshold runs only when the first finds nothing.
THRESHOLD = 0.5
FALLBACK_THRESHOLD = 0.3
# Word similarity of the query's road words (its districts and its words before its
# number) to a stored road name. At 0.4 the GIN condition passed ~150 names, each
# re-checked (~13 µs a call): 3 ms of lookup for 21% fallbacks to the index scan,
# against 0.8 ms and 30% here, with the same accuracy.
ROAD_THRESHOLD = 0.5
ROAD_NAMES = 20  # the stored road names most like the query's whose addresses are read
# Fewer candidates than this by road name, from a road name of at most SHORT_ROAD
# characters (the caller's district aside), and the road names like the query's may be the
# wrong ones: a two-character name with a character dropped shares one trigram with its
# stored name, so the road names found are others that contain it; the index search runs
# instead, as it does when the road names give nothing. Longer names that found their
# roads keep the few candidates they have: on the bench's queries (two sets of 1,000) the
# answers are as good, and 6% instead of 32% of the queries pay the index search.
ROAD_MIN_ROWS = 5
SHORT_ROAD = 2
# Strict word similarity the names, and the numbers, of a query must each reach: about
# one shared trigram, enough to rule out addresses that share only the other part.
PART_THRESHOLD = 0.1
# Edit costs in the re-rank: insertion and deletion 1, substitution less, and the
# address's trailing words (a more precise address than the query asked for) little.
SUBSTITUTION_COST = 0.8
TRAILING_COST = 0.25
# Score factor for an address outside the district(s) the caller named: callers seldom
# get their district wrong, so a road in it with one character off beats the exact road
# name in another district.
OTHER_DISTRICT_FACTOR = 0.9


class GeocodeError(ValueError):
    """A query the geocoder cannot use, with a message the operator can act on."""

    def __init__(self, message: str | Promise) -> None:
        super().__init__(str(message))
        self.message = str(message)


class QueryTooShort(GeocodeError):
    pass


class QueryWithoutName(GeocodeError):
    pass


class QueryTooLong(GeocodeError):
    pass


@dataclass(frozen=True)
class Candidate:
    """One standard address the query may mean. `point` is in storage (WGS 84)."""

    address_id: int
    code: str
    text: str
    point: Point
    score: float  # 0-1, 1 = the same words as the query
    cell_code: str | None
    community_code: str | None
    street_code: str | None
    district_code: str | None


@dataclass(frozen=True)
class Query:
    normal: str  # the whole query in normal form
    districts: frozenset[str]  # the district names it holds
    core: str  # without district names: what the index condition uses
    names: str  # the core's names (road, estate …)
    numbers: str  # the core's numbers (house number, block …), or ""
    road: str  # its districts and the core's words before its first number, or ""


@dataclass(frozen=True)
class _Row:
    """A candidate row as read; its Candidate (with a GEOS point) is made only for the
    rows returned (making one for each of the CANDIDATES rows was 15% of the Python)."""

    address_id: int
    code: str
    text: str
    x: float
    y: float
    codes: tuple[str | None, str | None, str | None, str | None]  # cell … district
    search_text: str
    word_similarity: float
    similarity: float
    score: float = 0.0

    @property
    def candidate(self) -> Candidate:
        cell_code, community_code, street_code, district_code = self.codes
        return Candidate(
            address_id=self.address_id,
            code=self.code,
            text=self.text,
            point=Point(self.x, self.y, srid=settings.GRID_SRID),
            score=self.score,
            cell_code=cell_code,
            community_code=community_code,
            street_code=street_code,
            district_code=district_code,
        )


def geocode(
    text: str, *, limit: int = 5, among: QuerySet[Address] | None = None
) -> list[Candidate]:
    """The standard addresses that `text` most likely means, best first (at most `limit`),
    among the given addresses (all by default; the API passes what the user may see).

    Raises GeocodeError (QueryTooShort, QueryWithoutName, QueryTooLong) for a query that
    cannot be matched, and ValueError for a limit outside 1..MAX_LIMIT."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    among = Address.objects.all() if among is None else among
    districts = district_words()
    query = parse_query(text, districts)
    rows = _candidates(query, THRESHOLD, among) or _candidates(query, FALLBACK_THRESHOLD, among)
    ranked = sorted((_rescored(query, row, districts) for row in rows), key=_rank_key)
    return [row.candidate for row in ranked[:limit]]


def parse_query(text: str, districts: frozenset[str]) -> Query:
    """The query in normal form, split into its parts, checked for a name to match."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryTooLong(
            _("地址过长：请只输入地址本身，最多 %(max)d 个字。") % {"max": MAX_QUERY_LENGTH}
        )
    normal = normalise_address(text)
    if len(normal.replace(" ", "")) < MIN_QUERY_CHARS:
        raise QueryTooShort(
            _("地址太短：请至少输入 %(min)d 个字，例如路名加门牌号或小区名。")
            % {"min": MIN_QUERY_CHARS}
        )
    core = [word for word in normal.split(" ") if word not in districts]
    names = [word for word in core if not word[0].isdigit()]
    if not names:
        raise QueryWithoutName(_("只有区名或门牌号无法定位：请同时输入路名、街巷名或小区名。"))
    numbers = [word for word in core if word[0].isdigit()]
    named = frozenset(normal.split(" ")) & districts
    # The road name: the core's words before its first number, after the district(s) the
    # caller named (a wrong character in a short name leaves few trigrams in common; the
    # district's make up for them).
    first_number = next((i for i, word in enumerate(core) if word[0].isdigit()), 0)
    road = " ".join([*sorted(frozenset(normal.split(" ")) & districts), *core[:first_number]])
    road = road if first_number else ""
    return Query(normal, named, " ".join(core), " ".join(names), " ".join(numbers), road)


# The district names change a few times a decade; each process reads them again after
# this many seconds (the query cost 1.3 ms of Python and a round trip per request).
DISTRICT_WORDS_TTL_S = 60.0
_district_words: tuple[float, frozenset[str]] | None = None


def district_words() -> frozenset[str]:
    """The current districts' names in normal form (某某区 …), read at most once a
    DISTRICT_WORDS_TTL_S by each process (forget_district_words() reads them again)."""
    global _district_words
    now = time.monotonic()
    if _district_words is None or now - _district_words[0] > DISTRICT_WORDS_TTL_S:
        names = Area.objects.current().filter(tier=Tier.DISTRICT).values_list("name", flat=True)
        words = frozenset(word for word in map(normalise_address, names) if word)
        _district_words = (now, words)
    return _district_words[1]


def forget_district_words(**kwargs: Any) -> None:
    """Read the district names again at the next query (connected to Area saves and
    deletes by connect_district_words(), so that this process sees a change at once)."""
    global _district_words
    _district_words = None


def connect_district_words() -> None:
    """Called once from IncidentsConfig.ready()."""
    for signal in (post_save, post_delete):
        signal.connect(forget_district_words, sender=Area, dispatch_uid=f"geocoding.{signal!r}")


def _without(normal: str, words: frozenset[str]) -> str:
    return " ".join(word for word in normal.split(" ") if word not in words)


def _candidates(
    query: Query, threshold: float, among: QuerySet[Address], *, by_road: bool = True
) -> list[_Row]:
    """The CANDIDATES rows of `among` whose search text the query matches best: among the
    addresses of the road names like the query's (by_road) when that finds any (for a
    short road name, ROAD_MIN_ROWS), else among all (the trigram index). Both apply the
    same conditions and order, so the first is the second restricted to a few roads."""
    # The thresholds are settings of the transaction (the GIN scans read them), so they
    # cannot leak into another request's queries.
    # The statements are kept prepared (layers.kept_statements); the road-name one with
    # its generic plan (the same for every query: a GIN scan of the names, a B-tree range
    # of each), since planning it cost more than running it.
    with transaction.atomic(), kept_cursor() as cursor:
        road = by_road and bool(query.road)
        cursor.execute(
            "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true), "
            "set_config('pg_trgm.strict_word_similarity_threshold', %s, true), "
            "set_config('plan_cache_mode', %s, true)",
            [
                str(ROAD_THRESHOLD if road else threshold),
                str(PART_THRESHOLD),
                "force_generic_plan" if road else "auto",
            ],
        )
        rows: list[tuple[Any, ...]] = []
        if road:
            cursor.execute(*_by_road(query, threshold, among))
            rows = cursor.fetchall()
            if _too_few(query, rows) and one_slip_patterns(query):
                # A slip in the road name may leave too few trigrams in common with the
                # stored one: the names one slip away from it (a LIKE over a few thousand
                # names, not a scan of every address). The slip costs the whole query
                # its word similarity too, so its addresses pass at the fallback's.
                low = min(threshold, FALLBACK_THRESHOLD)
                cursor.execute(*_by_road(query, low, among, one_slip=True))
                rows = _merged(rows, cursor.fetchall())
            if _too_few(query, rows):
                rows = []  # no road like the query's, or maybe the wrong ones: all addresses
                cursor.execute(
                    "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true), "
                    "set_config('plan_cache_mode', 'auto', true)",
                    [str(threshold)],
                )
        if not rows:
            cursor.execute(*_by_index(query, among))
            rows = cursor.fetchall()
        return [_row(values) for values in rows]


def _too_few(query: Query, rows: list[tuple[Any, ...]]) -> bool:
    """Whether the road names' candidates are too few to be the answer: none, or fewer
    than ROAD_MIN_ROWS from a road name of SHORT_ROAD characters (see ROAD_MIN_ROWS)."""
    return not rows or (len(rows) < ROAD_MIN_ROWS and _road_chars(query) <= SHORT_ROAD)


def _merged(first: list[tuple[Any, ...]], second: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows of both lists, each address once (the re-rank orders them)."""
    seen = {values[0] for values in first}
    return first + [values for values in second if values[0] not in seen]


def one_slip_patterns(query: Query) -> list[str]:
    """LIKE patterns of the stored road names one slip away from the query's road name
    (its districts aside): one character replaced (a homophone) or one left out, the name
    a word of its own at the end (after a district, or alone). Empty when the name is
    shorter than SHORT_ROAD characters (one slip from one character is any name)."""
    words = [word for word in query.road.split(" ") if word not in query.districts]
    length = sum(map(len, words))
    if length < SHORT_ROAD:
        return []
    chars = [_LIKE_ESCAPES.get(char, char) for char in " ".join(words)]
    # No character replaced in a name of SHORT_ROAD characters: _巷 keeps one character
    # and matches hundreds of names, each ranked by word similarity (~13 µs a name).
    replaced = [
        "".join([*chars[:i], "_", *chars[i + 1 :]])
        for i, char in enumerate(chars)
        if char != " " and length > SHORT_ROAD
    ]
    dropped = ["".join([*chars[:i], "_", *chars[i:]]) for i in range(len(chars) + 1)]
    return sorted({form for name in replaced + dropped for form in (name, f"% {name}")})


_LIKE_ESCAPES = {"\\": "\\\\", "%": "\\%", "_": "\\_"}


def _road_chars(query: Query) -> int:
    """Characters of the query's road name without the district(s) the caller named."""
    return sum(len(word) for word in query.road.split(" ") if word not in query.districts)


def _by_road(
    query: Query, threshold: float, among: QuerySet[Address], *, one_slip: bool = False
) -> tuple[str, list[Any]]:
    """The statement of the candidates among the addresses of the road names that the
    query's road name is word-similar to (one_slip: that are one slip away from it,
    one_slip_patterns), read through the B-tree address_search_road; the conditions of
    _by_index are applied to them as filters.

    Of each road name, the addresses whose house number starts with the query's number
    but its last digit, and at least its first two: "<name> 43" up to "<name> 44" for
    438 (43, 430–439, 4300 …), "<name> 17…" for 17: the neighbours that the trigram
    search ranks next after the number itself. For 5, "<name> 5" only: "<name> 5…" is
    5, 50–59 and 500–599 (~110 rows a name, the road statement's slowest queries), which
    share one trigram with 5. Reading every number of a road (a few hundred rows a name,
    each filter ~1.5 µs) cost as much as the index scan it replaces."""
    number = next(word for word in query.core.split(" ") if word[0].isdigit())
    digits = number[: len(number) - len(number.lstrip("0123456789"))]
    digits = digits[: max(len(digits) - 1, min(len(digits), 2))]
    # One digit: up to "<name> 50", so the number 5 and the words after it (" " < "0").
    low = digits
    high = f"{digits}0" if len(digits) == 1 else digits[:-1] + chr(ord(digits[-1]) + 1)
    scope, scope_params = _scope(among)
    conditions = [
        scope,
        "word_similarity(%s, search_text) >= %s::float8",
        "strict_word_similarity(%s, search_text) >= %s::float8",
        "strict_word_similarity(%s, search_text) >= %s::float8",
    ]
    names = "name LIKE ANY(%s)" if one_slip else "%s <%% name"
    params: list[Any] = [
        query.normal,
        query.normal,
        one_slip_patterns(query) if one_slip else query.road,
        query.road,
        query.normal,
        f" {low}",
        f" {high}",
    ]
    params += [*scope_params, query.core, threshold]
    params += [query.names, PART_THRESHOLD, query.numbers, PART_THRESHOLD]
    # Road name by road name (LATERAL, kept a subquery by OFFSET 0), so that each is a
    # range of the B-tree: flattened, the planner may scan the table in the order of the
    # ORDER BY … LIMIT around it instead (seconds).
    source = f"""(
            SELECT name FROM {NAME_TABLE} WHERE {names}
            ORDER BY word_similarity(%s, name) DESC, similarity(%s, name) DESC, name
            LIMIT {ROAD_NAMES}
        ) n CROSS JOIN LATERAL (
            SELECT id, code, search_text FROM {ADDRESS_TABLE}
            WHERE search_text ~>=~ (n.name || %s) AND search_text ~<~ (n.name || %s)
            AND {" AND ".join(conditions)} OFFSET 0
        ) road"""
    return _statement(source), params


def _by_index(query: Query, among: QuerySet[Address]) -> tuple[str, list[Any]]:
    """The statement of the candidates among all addresses, through the trigram GIN index."""
    scope, scope_params = _scope(among)
    conditions = [scope, "%s <%% search_text"]  # core <% search_text: the GIN index
    params: list[Any] = [query.normal, query.normal, *scope_params, query.core]
    if query.numbers:
        conditions += ["%s <<%% search_text", "%s <<%% search_text"]
        params += [query.names, query.numbers]
    return _statement(f"{ADDRESS_TABLE} WHERE {' AND '.join(conditions)}"), params


def _statement(source: str) -> str:
    """The candidate query over `source` (FROM … WHERE … of the address table, taking the
    parameters after the two texts of the similarities). One plain statement (building
    it with the ORM cost 1.4 ms of Python per query); the placement codes are joined to
    the few best rows only, not to every candidate."""
    return f"""
        SELECT a.id, a.code, a.text, ST_X(a.geom), ST_Y(a.geom), a.search_text,
               best.word_similarity, best.similarity,
               cell.code, community.code, street.code, district.code
        FROM (
            SELECT id, word_similarity(%s, search_text) AS word_similarity,
                   similarity(search_text, %s) AS similarity
            FROM {source}
            ORDER BY word_similarity DESC, similarity DESC, code LIMIT {CANDIDATES}
        ) best
        JOIN {ADDRESS_TABLE} a ON a.id = best.id
        LEFT JOIN {AREA_TABLE} cell ON cell.id = a.cell_id
        LEFT JOIN {AREA_TABLE} community ON community.id = a.community_id
        LEFT JOIN {AREA_TABLE} street ON street.id = a.street_id
        LEFT JOIN {AREA_TABLE} district ON district.id = a.district_id
    """


ADDRESS_TABLE = Address._meta.db_table
AREA_TABLE = Area._meta.db_table
NAME_TABLE = "layers_addressname"  # the road names (layers migration 0007)


def _scope(among: QuerySet[Address]) -> tuple[str, list[Any]]:
    """`among` as a condition on the address table: its WHERE clause when it filters on
    the address's own columns (what layers.access makes), else `id IN (its query)`."""
    query = among.query
    if len(query.alias_map) > 1:  # joins: keep them in a subquery
        sql, params = among.values("pk").query.sql_with_params()
        return f"id IN ({sql})", list(params)
    try:
        sql, params = query.get_compiler(using=among.db).compile(query.where)
    except EmptyResultSet:  # .none()
        return "FALSE", []
    except FullResultSet:  # no filter
        return "TRUE", []
    return (f"({sql})", list(params)) if sql else ("TRUE", [])


def _row(values: tuple[Any, ...]) -> _Row:
    (pk, code, text, x, y, search_text, word_similarity, similarity, *codes) = values
    cell_code, community_code, street_code, district_code = codes
    return _Row(
        pk,
        code,
        text,
        x,
        y,
        (cell_code, community_code, street_code, district_code),
        search_text,
        word_similarity,
        similarity,
    )


def _rescored(query: Query, row: _Row, districts: frozenset[str]) -> _Row:
    """The row with its final score: the mean of the whole query's word similarity and
    the edit similarity of the two texts without districts, reduced when the caller named
    a district and the address is in none of the named ones."""
    theirs = _without(row.search_text, districts) or row.search_text
    edit = 1.0 - min(edit_distance(query.core, theirs) / max(len(query.core), 1), 1.0)
    score = (row.word_similarity + edit) / 2
    if query.districts and query.districts.isdisjoint(row.search_text.split(" ")):
        score *= OTHER_DISTRICT_FACTOR
    return replace(row, score=round(score, 4))


def _rank_key(row: _Row) -> tuple[float, float, float, str]:
    return (-row.score, -row.word_similarity, -row.similarity, row.code)


def edit_distance(query: str, address: str) -> float:
    """Weighted Levenshtein distance from the query to the address: a substitution costs
    SUBSTITUTION_COST, and the address's words after the last one the query reaches cost
    TRAILING_COST a character (某某路 123 asks for the estate gate at 某某路 123 某某小区
    rather than for another district's 某某路 123 with the district wrong).

    >>> edit_distance("同和路", "同合路"), edit_distance("同和路", "同和中路")
    (0.8, 1.0)
    >>> edit_distance("中山路 123", "中山路 123 华景新城")
    1.25
    """
    # A common beginning costs nothing and changes no cheapest path after it: left out.
    # (The same distances as the full table, 3.5x faster with the loop below: the
    # re-rank was half of geocode()'s Python.)
    same = 0
    for char_q, char_a in zip(query, address, strict=False):
        if char_q != char_a:
            break
        same += 1
    query, address = query[same:], address[same:]
    n = len(address)
    previous = [float(j) for j in range(n + 1)]
    for i, char_q in enumerate(query, 1):
        current = [float(i)]
        cost = float(i)  # current[j], the cell to the left
        for j, char_a in enumerate(address):
            cost += 1.0  # insertion
            deletion = previous[j + 1] + 1.0
            substitution = previous[j] + (0.0 if char_q == char_a else SUBSTITUTION_COST)
            if deletion < cost:
                cost = deletion
            if substitution < cost:
                cost = substitution
            current.append(cost)
        previous = current
    return min(cost + TRAILING_COST * (n - j) for j, cost in enumerate(previous))
