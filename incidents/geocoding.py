"""Hotline geocoding (地址匹配): a caller's words → the standard addresses they most
likely mean, best first.

1. The query is put in the normal form of the stored addresses
   (layers.addresses.normalise_address): half-width, simplified, Arabic house numbers,
   no punctuation, words separated by spaces, no city prefix. Its words are sorted into
   district names, names (road, estate) and numbers (house number, block).
2. Candidates come from the trigram GIN index on Address.search_text, in one index scan:
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

from dataclasses import dataclass, replace
from typing import Any

from django.contrib.gis.geos import Point
from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from layers.addresses import normalise_address
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


@dataclass(frozen=True)
class _Row:
    candidate: Candidate
    search_text: str
    word_similarity: float
    similarity: float


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
    return Query(normal, named, " ".join(core), " ".join(names), " ".join(numbers))


def district_words() -> frozenset[str]:
    """The current districts' names in normal form (某某区 …): one indexed query."""
    names = Area.objects.current().filter(tier=Tier.DISTRICT).values_list("name", flat=True)
    return frozenset(word for word in map(normalise_address, names) if word)


def _without(normal: str, words: frozenset[str]) -> str:
    return " ".join(word for word in normal.split(" ") if word not in words)


def _candidates(query: Query, threshold: float, among: QuerySet[Address]) -> list[_Row]:
    """The CANDIDATES rows of `among` whose search text the query matches best."""
    word_similarity = TrigramWordSimilarity(query.normal, "search_text")
    similarity = TrigramSimilarity("search_text", query.normal)
    found = among.filter(search_text__trigram_word_similar=query.core)  # core <% search_text
    if query.numbers:
        found = found.filter(search_text__trigram_strict_word_similar=query.names).filter(
            search_text__trigram_strict_word_similar=query.numbers
        )
    best = (
        found.annotate(word_similarity=word_similarity, similarity=similarity)
        .order_by("-word_similarity", "-similarity", "code")
        .values("pk")[:CANDIDATES]
    )
    # The placement codes are joined to the few best rows only, not to every candidate.
    rows = (
        Address.objects.filter(pk__in=best)
        .annotate(
            word_similarity=word_similarity,
            similarity=similarity,
            cell_code=F("cell__code"),
            community_code=F("community__code"),
            street_code=F("street__code"),
            district_code=F("district__code"),
        )
        .values_list(*_COLUMNS)
    )
    # The thresholds are settings of the transaction (the GIN scan reads them), so they
    # cannot leak into another request's queries.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true), "
            "set_config('pg_trgm.strict_word_similarity_threshold', %s, true)",
            [str(threshold), str(PART_THRESHOLD)],
        )
        return [_row(dict(zip(_COLUMNS, values, strict=True))) for values in rows]


_COLUMNS = (
    "pk",
    "code",
    "text",
    "geom",
    "search_text",
    "word_similarity",
    "similarity",
    "cell_code",
    "community_code",
    "street_code",
    "district_code",
)


def _row(values: dict[str, Any]) -> _Row:
    candidate = Candidate(
        address_id=values["pk"],
        code=values["code"],
        text=values["text"],
        point=values["geom"],
        score=0.0,
        cell_code=values["cell_code"],
        community_code=values["community_code"],
        street_code=values["street_code"],
        district_code=values["district_code"],
    )
    return _Row(candidate, values["search_text"], values["word_similarity"], values["similarity"])


def _rescored(query: Query, row: _Row, districts: frozenset[str]) -> _Row:
    """The row with its final score: the mean of the whole query's word similarity and
    the edit similarity of the two texts without districts, reduced when the caller named
    a district and the address is in none of the named ones."""
    theirs = _without(row.search_text, districts) or row.search_text
    edit = 1.0 - min(edit_distance(query.core, theirs) / max(len(query.core), 1), 1.0)
    score = (row.word_similarity + edit) / 2
    if query.districts and query.districts.isdisjoint(row.search_text.split(" ")):
        score *= OTHER_DISTRICT_FACTOR
    return replace(row, candidate=replace(row.candidate, score=round(score, 4)))


def _rank_key(row: _Row) -> tuple[float, float, float, str]:
    return (-row.candidate.score, -row.word_similarity, -row.similarity, row.candidate.code)


def edit_distance(query: str, address: str) -> float:
    """Weighted Levenshtein distance from the query to the address: a substitution costs
    SUBSTITUTION_COST, and the address's words after the last one the query reaches cost
    TRAILING_COST a character (某某路 123 asks for the estate gate at 某某路 123 某某小区
    rather than for another district's 某某路 123 with the district wrong).

    >>> edit_distance("同和路", "同合路"), edit_distance("同和路", "同和中路")
    (0.8, 1.0)
    >>> edit_distance("天河路 123", "天河路 123 华景新城")
    1.25
    """
    previous = [float(j) for j in range(len(address) + 1)]
    for i, char_q in enumerate(query, 1):
        current = [float(i)]
        for j, char_a in enumerate(address, 1):
            substitution = previous[j - 1] + (0.0 if char_q == char_a else SUBSTITUTION_COST)
            current.append(min(previous[j] + 1.0, current[j - 1] + 1.0, substitution))
        previous = current
    n = len(address)
    return min(cost + TRAILING_COST * (n - j) for j, cost in enumerate(previous))
