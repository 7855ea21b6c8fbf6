"""Benchmark: 12345 hotline geocoding of misspelled and partial addresses.

Loads N standard addresses of the demo city (fixtures.synth, through the bulk import;
skipped when the database already holds them), makes a seeded set of caller-style
queries from real addresses with known answers (dropped characters, homophones, missing
city or district, Chinese numerals, full-width digits, spaces and punctuation, 座/号楼
for 栋, 附近), and prints p50/p95/p99 latency and top-1/top-5 accuracy of
incidents.geocoding.geocode() beside two same-run baselines:

- pg_trgm on the raw text: `text % q ORDER BY similarity(text, q)`, no normalisation
  and no re-rank, through a GIN index on Address.text built for the run and dropped after;
- today's address search (`/api/layers/addresses/?q=`: ILIKE on code, text and
  building name), a sequential scan, so on a sample of the queries.

Runs in its own database (gridmgmt_bench_geocode, from the project's template), with
the demo city's grid, so that other benchmarks' tables are left alone.

    .venv/bin/python bench/geocode_bench.py [--n 1000000] [--queries 1000] [--seed 11]

With --http (make bench-geocode-http), the same queries go through the server instead:
uvicorn on the bench database, wrk (Debian's) at 8 keep-alive connections, each path
for --seconds: GET /api/geocode/?q= and GET /api/layers/locate/?lon&lat (points of
random addresses, GCJ-02 as a phone map sends them), beside two same-run baselines for
each: the floor (an authenticated GET of one catalogue row) and the lean SQL (the same
statement straight from psycopg, at the same concurrency, no Python in between).
Server and database CPU ms per request are read from /proc (bench/wrk.py).
--connections 8,32 runs every path at each count; --locate-only measures the ladder, the
floor and locate only, for which the grid and a few addresses are enough (--n 20000);
--before DIR serves a checkout beside (--old-locate-path: where it served locate).
--geocode-only measures the floor and geocode only (before and now alternated twice with
--before), with the lean SQL of the tail: the queries whose road name is one slip from
the stored one, by the index statement they ran before and by the names one slip away.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get(
    "GEOCODE_BENCH_DATABASE_URL",
    "postgres://gridmgmt:gridmgmt@127.0.0.1:5432/gridmgmt_bench_geocode",
)
ILIKE_SAMPLE = 100
WARM_UP = 100
RAW_INDEX = "bench_address_text_trgm"

# Homophones a pinyin input method offers for the characters of the demo city's road,
# estate and direction names (and the two suffixes 区, 市). None is a numeral: 山→三 would
# turn a road name into a number, which is another error.
_HOMOPHONE_PAIRS = (
    "华化 村存 和河 新心 南男 岗港 景井 江将 山衫 龙隆 花华 城成 兴星 东冬 港岗 大达 天添 "
    "石时 德得 金今 宝保 同铜 湾弯 云芸 广光 信心 科可 源元 丰峰 街接 中钟 黄皇 珠朱 越月 "
    "福富 海还 荔丽 沙莎 岭领 利力 苑园 河和 口扣 林琳 穗岁 盛胜 夏下 风丰 人仁 北贝 京经 "
    "昌常 洞东 白百 元园 园元 场厂 溪西 长常 禺于 翠萃 桂贵 嘉家 太泰 钟中 乐勒 开凯 创窗 "
    "秀绣 永勇 达大 泰太 顺舜 汇会 富福 安按 腾藤 远园 明名 康抗 雅亚 路露 体题 育玉 埔浦 "
    "牌排 员园 寿受 五午 岑琴 棠堂 下夏 陂坡 猎列 冼先 临林 环还 解姐 放方 民明 农浓 建健 "
    "设社 工公 业叶 滨宾 洪红 多朵 津金 宁凝 芳方 地第 鹤贺 三山 机鸡 先鲜 烈列 执直 梅眉 "
    "韵运 汕山 燕艳 顶鼎 水税 荫阴 竹竺 丹单 禾和 落洛 茅毛 前钱 发法 学雪 香乡 雪学 萝罗 "
    "番翻 桥乔 洛落 造早 化华 全泉 神深 狮师 步部 蕉焦 门们 进近 阁格 平萍 塘唐 朱珠 派排 "
    "潭谭 锦金 恒横 宏红 鑫新 瑞锐 祥翔 众重 通同 隆龙 美每 佳家 飞非 卓桌 智志 博波 凯开 "
    "星兴 光广 辉挥 晨辰 曦希 方芳 粤越 宇雨 正政 羊阳 泽则 力立 居局 碧必 骏俊 逸易 丽立 "
    "印应 合和 生声 世市 纪记 万晚 保宝 鸿红 润闰 聚据 贤闲 百白 荣容 兆照 振震 满慢 盈迎 "
    "思斯 启起 致至 弘红 毅义 凤风 鸣明 家佳 心新 道到 巷向 横恒 直执 西希 小晓 厦夏 公工 "
    "寓玉 庄装 区曲 市是"
)
HOMOPHONES = {pair[0]: pair[1] for pair in _HOMOPHONE_PAIRS.split()}
DIGITS = "零一二三四五六七八九"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
SEPARATORS = [" ", " ", "，", "  ", "\u3000"]


@dataclass(frozen=True)
class Source:
    """A real address a query is made from (its code is the known answer)."""

    code: str
    district: str
    road: str
    house_number: str
    building_name: str
    unique_without_district: bool


@dataclass(frozen=True)
class Query:
    text: str
    code: str
    kinds: tuple[str, ...]


@dataclass
class Result:
    label: str
    latencies: list[float]
    top1: int = 0
    top5: int = 0
    misses: Counter[str] | None = None


# --- set-up ---------------------------------------------------------------------------


def setup_django() -> None:
    from bench.import_bench import setup_django as setup_bench

    setup_bench(BENCH_DB)


def ensure_addresses(n: int) -> None:
    """N addresses of the demo city, loaded through the bulk import (a fresh table)."""
    from django.db import connection

    from layers.models import Address

    have = Address.objects.count()
    if have >= n:
        print(f"addresses: {have} already loaded", flush=True)
        return
    from fixtures.demo import address_batches
    from layers.importing.core import RejectReport, import_batches
    from layers.importing.specs import LAYERS

    print(f"loading {n} addresses through the bulk import …", flush=True)
    if have:  # a partial load: start again (cases in this bench database go with it)
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Address._meta.db_table} CASCADE")
    spec = LAYERS["addresses"]
    start = time.perf_counter()
    result = import_batches(
        spec,
        address_batches(n),
        datum="wgs84",
        rename={c: c for c in spec.fields},
        dry_run=False,
        report=RejectReport(io.StringIO(), []),
    )
    print(f"  {result.summary()} in {time.perf_counter() - start:.1f} s", flush=True)


# --- queries --------------------------------------------------------------------------


def sources(count: int, rng: np.random.Generator) -> list[Source]:
    """`count` addresses picked at random, with whether their road, number and building
    name are unique in the city (only then may a query leave the district out)."""
    from django.db import connection

    from layers.models import Address, Area

    ids = np.array(Address.objects.order_by("pk").values_list("pk", flat=True))
    picked = rng.choice(ids, count, replace=False).tolist()  # in random order
    by_pk = {
        row[0]: row[1:]
        for row in Address.objects.filter(pk__in=picked).values_list(
            "pk", "code", "district_id", "road", "house_number", "building_name"
        )
    }
    rows = [by_pk[pk] for pk in picked]
    names = dict(Area.objects.filter(tier="district").values_list("pk", "name"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT road, house_number, building_name FROM {Address._meta.db_table}
            WHERE road = ANY(%s) GROUP BY 1, 2, 3 HAVING count(*) > 1""",
            [sorted({row[2] for row in rows})],
        )
        repeated = set(cursor.fetchall())
    return [
        Source(
            code, names[district], road, number, building, (road, number, building) not in repeated
        )
        for code, district, road, number, building in rows
    ]


def city_name() -> str:
    """The name of the bench database's city (its one area of the city tier)."""
    from layers.models import Area, Tier

    return str(Area.objects.current().filter(tier=Tier.CITY).values_list("name", flat=True)[0])


def make_query(source: Source, rng: np.random.Generator, city: str) -> Query:
    """A caller's version of the address (`city`: the city's name, which callers may say
    or leave out): at least one slip, usually several."""
    kinds: list[str] = []
    u = rng.random(6)
    prefix = _prefix(source, u[0], city, kinds)
    road, block = (
        source.road,
        source.building_name[-2:] if source.building_name.endswith("栋") else "",
    )
    estate = source.building_name[: len(source.building_name) - len(block)]
    if u[1] < 0.55 or not kinds:
        if estate and rng.random() < 0.4:
            estate = _typo(estate, rng, kinds)
        else:
            road = _typo(road, rng, kinds)
    number = _house_number(int(source.house_number.rstrip("号")), u[2], kinds)
    if block and u[3] < 0.35:
        b = int(block[0])
        forms = [f"{b}座", f"{b}号楼", f"{DIGITS[b]}栋", f"{b}幢", f"{b}#楼"]
        block = forms[int(rng.integers(len(forms)))]
        kinds.append("block as 座/号楼/幢/#")
    parts = [p for p in (prefix, road, number, estate + block) if p]
    if u[4] < 0.3:
        text = SEPARATORS[int(rng.integers(len(SEPARATORS)))].join(parts)
        kinds.append("spaces, punctuation")
    else:
        text = "".join(parts)
    if u[5] < 0.08:
        text += "附近"
        kinds.append("附近")
    return Query(text, source.code, tuple(kinds))


def _prefix(source: Source, u: float, city: str, kinds: list[str]) -> str:
    if u < 0.45:
        kinds.append("no city")
        return source.district
    if u < 0.75 and source.unique_without_district:
        kinds.append("no city, no district")
        return ""
    return city + source.district


def _typo(name: str, rng: np.random.Generator, kinds: list[str]) -> str:
    """One homophone (60%) or one dropped character."""
    spots = [i for i, ch in enumerate(name) if ch in HOMOPHONES]
    if spots and rng.random() < 0.6:
        i = spots[int(rng.integers(len(spots)))]
        kinds.append("homophone")
        return name[:i] + HOMOPHONES[name[i]] + name[i + 1 :]
    if len(name) >= 3:
        i = int(rng.integers(len(name)))
        kinds.append("dropped character")
        return name[:i] + name[i + 1 :]
    return name


def _house_number(n: int, u: float, kinds: list[str]) -> str:
    if u < 0.25:
        kinds.append("Chinese numerals")
        return _chinese(n) + "号"
    if u < 0.33:
        kinds.append("spoken digits (幺二三)")
        return "".join("幺" if d == "1" else DIGITS[int(d)] for d in str(n)) + "号"
    if u < 0.5:
        kinds.append("full-width digits")
        return str(n).translate(FULL_WIDTH) + "号"
    if u < 0.6:
        kinds.append("no 号")
        return str(n)
    return f"{n}号"


def _chinese(n: int) -> str:
    """一百二十三 for 123 (house numbers here stay below 1000)."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    text = DIGITS[hundreds] + "百" if hundreds else ""
    if tens:
        text += ("" if tens == 1 and not hundreds else DIGITS[tens]) + "十"
    elif hundreds and units:
        text += "零"
    return text + (DIGITS[units] if units else "")


# --- measuring ------------------------------------------------------------------------


def measure(label: str, queries: list[Query], find: Callable[[str], list[str]]) -> Result:
    result = Result(label, [], misses=Counter())
    for query in queries:
        start = time.perf_counter()
        codes = find(query.text)
        result.latencies.append((time.perf_counter() - start) * 1000)
        hit = bool(codes) and codes[0] == query.code
        result.top1 += hit
        result.top5 += query.code in codes[:5]
        if not hit:
            assert result.misses is not None
            result.misses.update(query.kinds)
    return result


def ours(text: str) -> list[str]:
    from incidents.geocoding import geocode

    return [candidate.code for candidate in geocode(text, limit=5)]


def raw_trigram(text: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT code FROM layers_address WHERE text %% %s "
            "ORDER BY similarity(text, %s) DESC, code LIMIT 5",
            [text, text],
        )
        return [row[0] for row in cursor.fetchall()]


def ilike(text: str) -> list[str]:
    from django.db.models import Q

    from layers.models import Address

    found = Address.objects.filter(
        Q(code__icontains=text) | Q(text__icontains=text) | Q(building_name__icontains=text)
    )
    return list(found.order_by("pk").values_list("code", flat=True)[:5])


def build_raw_index() -> float:
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {RAW_INDEX}")
        cursor.execute(f"CREATE INDEX {RAW_INDEX} ON layers_address USING gin (text gin_trgm_ops)")
    return time.perf_counter() - start


def drop_raw_index() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {RAW_INDEX}")


def plan_of(text: str) -> str:
    """EXPLAIN of geocode()'s index query for one query: it must use the trigram index."""
    from django.db import connection, transaction

    from incidents.geocoding import THRESHOLD, district_words, parse_query

    query = parse_query(text, district_words())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", [str(THRESHOLD)]
        )
        cursor.execute(
            "EXPLAIN SELECT id FROM layers_address WHERE %s <%% search_text", [query.core]
        )
        return "\n".join(row[0] for row in cursor.fetchall())


# --- report ---------------------------------------------------------------------------


def print_results(results: list[Result]) -> None:
    print()
    header = ("queries", "top-1", "top-5", "p50 ms", "p95 ms", "p99 ms")
    print(f"{'method':<52} " + " ".join(f"{h:>7}" for h in header))
    for r in results:
        n = len(r.latencies)
        p50, p95, p99 = np.percentile(r.latencies, [50, 95, 99])
        print(
            f"{r.label:<52} {n:>7} {r.top1 / n:>7.1%} {r.top5 / n:>7.1%} "
            f"{p50:>7.1f} {p95:>7.1f} {p99:>7.1f}"
        )


def print_misses(result: Result, queries: list[Query]) -> None:
    totals = Counter(kind for query in queries for kind in query.kinds)
    assert result.misses is not None
    print("\ntop-1 misses of geocode() by slip (a query usually has several):")
    for kind, total in totals.most_common():
        missed = result.misses[kind]
        print(f"  {kind:<28} {missed:>4} / {total:<5} ({missed / total:.1%})")


# --- over HTTP -----------------------------------------------------------------------

HOST, PORT = "127.0.0.1", int(os.environ.get("GEOCODE_BENCH_PORT", "8766"))


def locate_points(count: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    """GCJ-02 points of `count` random addresses (where callers and phones are)."""
    from layers.datum import Datum, from_wgs84
    from layers.models import Address

    ids = np.array(Address.objects.order_by("pk").values_list("pk", flat=True))
    picked = rng.choice(ids, count, replace=False).tolist()
    points = Address.objects.filter(pk__in=picked).values_list("geom", flat=True)
    xs, ys = zip(*((p.x, p.y) for p in points), strict=True)
    lon, lat = from_wgs84(list(xs), list(ys), Datum.GCJ02)
    return [(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]


def lean_geocode_sql(text: str) -> tuple[str, list[object]]:
    """geocode()'s index statement for `text`, as one plain statement."""
    from incidents.geocoding import CANDIDATES, district_words, parse_query

    query = parse_query(text, district_words())
    sql = (
        "SELECT a.id, a.code, a.text, a.geom, a.search_text FROM layers_address a"
        " WHERE %s <%% a.search_text"
    )
    args: list[object] = [query.core]
    if query.numbers:
        sql += " AND %s <<%% a.search_text AND %s <<%% a.search_text"
        args += [query.names, query.numbers]
    sql += (
        " ORDER BY word_similarity(%s, a.search_text) DESC, similarity(a.search_text, %s) DESC,"
        f" a.code LIMIT {CANDIDATES}"
    )
    return sql, [*args, query.normal, query.normal]


def lean_road_sql(text: str) -> tuple[str, list[object]]:
    """geocode()'s first statement for `text` (by road name), its index statement when the
    query has no road name before a number."""
    from incidents.geocoding import _by_road, district_words, parse_query
    from layers.models import Address

    query = parse_query(text, district_words())
    if not query.road:
        return lean_geocode_sql(text)
    sql, params = _by_road(query, 0.5, Address.objects.all())
    return sql, list(params)


def tail_queries(queries: list[Query]) -> list[Query]:
    """The queries for which geocode() reads the road names one slip away (before that
    path, they scanned the trigram index over every address)."""
    from django.db import connection

    from incidents.geocoding import geocode

    ran: list[str] = []

    def note(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        ran.append(sql)
        return execute(sql, params, many, context)

    tail: list[Query] = []
    for query in queries:
        ran.clear()
        with connection.execute_wrapper(note):
            geocode(query.text, limit=5)
        if any("LIKE ANY" in sql for sql in ran):
            tail.append(query)
    return tail


def lean_slip_sql(text: str) -> tuple[str, list[object]]:
    """geocode()'s statement of the road names one slip away from the query's, for `text`."""
    from incidents.geocoding import FALLBACK_THRESHOLD, _by_road, district_words, parse_query
    from layers.models import Address

    query = parse_query(text, district_words())
    sql, params = _by_road(query, FALLBACK_THRESHOLD, Address.objects.all(), one_slip=True)
    return sql, list(params)


LEAN_LOCATE_SQL = (
    "SELECT c.code, c.name, m.code, m.name, s.code, s.name, d.code, d.name"
    " FROM layers_areapiece p JOIN layers_area c ON c.id = p.area_id"
    " JOIN layers_area m ON m.id = c.parent_id JOIN layers_area s ON s.id = m.parent_id"
    " JOIN layers_area d ON d.id = s.parent_id"
    " WHERE p.tier = 'cell' AND ST_Covers(p.geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
    " ORDER BY c.code LIMIT 1"
)


def lean_front_statements(
    cookie: str, points: list[tuple[float, float]]
) -> list[tuple[str, list[object]]]:
    """The statement of locate's path in front of Django (layers/api/locate_fast.py:
    the session, its user, their post and the grid's stamp together), once per point
    (the point is placed in the server's process: the statement does not depend on it)."""
    from django.utils import timezone

    from gridmgmt.sessions import SessionStore
    from layers.api.locate_fast import _statement

    key = cookie.split("=", 1)[1]
    user_id = int(SessionStore(key).load()["_auth_user_id"])
    now = timezone.now()
    return [(_statement(), [user_id, key, now]) for _ in points]


def lean_sql_load(
    label: str,
    statements: list[tuple[str, list[object]]],
    connections: int,
    seconds: float,
    word_threshold: float = 0.5,
) -> str:
    """The statements round-robin from `connections` threads, each with its own
    connection (psycopg releases the GIL while PostgreSQL works), for `seconds`, with
    pg_trgm's word similarity threshold at `word_threshold`."""
    import threading

    import psycopg

    latencies: list[list[float]] = [[] for _ in range(connections)]
    stop = time.perf_counter() + seconds

    def client(k: int) -> None:
        with psycopg.connect(BENCH_DB, autocommit=True) as conn:
            conn.execute(f"SET pg_trgm.word_similarity_threshold = {word_threshold}")
            conn.execute("SET pg_trgm.strict_word_similarity_threshold = 0.1")
            i = k * 997
            while time.perf_counter() < stop:
                sql, args = statements[i % len(statements)]
                start = time.perf_counter()
                conn.execute(sql, args, prepare=True).fetchall()
                latencies[k].append((time.perf_counter() - start) * 1000)
                i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(connections)]
    begun = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - begun
    flat = [ms for per in latencies for ms in per]
    p50, p95, p99 = np.percentile(flat, [50, 95, 99])
    return (
        f"{label:<52} {len(flat) / elapsed:>8.0f} {p50:>7.1f} {p95:>7.1f} {p99:>7.1f}"
        f" {'-':>7} {'-':>6} {0:>5} {os.getloadavg()[0]:>5.1f}"
    )


def start_before(checkout: str, workers: int) -> subprocess.Popen[bytes]:
    """The server of an earlier checkout (same virtualenv, same database) on PORT + 1, for
    a before/after comparison in the same run."""
    from bench.server import get_status

    env = {**os.environ, "DATABASE_URL": BENCH_DB, "LOG_LEVEL": "WARNING"}
    command = [
        str(ROOT / ".venv" / "bin" / "uvicorn"), "gridmgmt.asgi:application",
        "--host", HOST, "--port", str(PORT + 1), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=checkout, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            asyncio.run(get_status(HOST, PORT + 1, "/api/schema/?format=json"))
            time.sleep(3)  # the other worker
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the server of --before did not start within 120 s")


def http_bench(queries: list[Query], rng: np.random.Generator, args: argparse.Namespace) -> None:
    from urllib.parse import quote

    from django.core.management import call_command
    from django.db import connection

    from bench.wrk import HEADER, bench_session, require_wrk
    from incidents.geocoding import ROAD_THRESHOLD
    from layers.models import Category

    require_wrk()
    call_command("create_demo_users", stdout=open(os.devnull, "w"))  # noqa: SIM115
    cookie = bench_session("bench-hotline", "hotline", "12345热线中心")
    category = Category.objects.order_by("pk").first()
    assert category is not None
    geocode_paths = [f"/api/geocode/?q={quote(q.text)}&limit=5" for q in queries]
    points = locate_points(len(queries), rng)
    locate_paths = [f"/api/layers/locate/?lon={x:.6f}&lat={y:.6f}&datum=gcj02" for x, y in points]
    from layers.datum import Datum, point_to_storage

    wgs = [point_to_storage(x, y, Datum.GCJ02) for x, y in points]
    lean_geocode = [lean_geocode_sql(q.text) for q in queries]
    lean_road = [lean_road_sql(q.text) for q in queries]
    lean_locate: list[tuple[str, list[object]]] = [(LEAN_LOCATE_SQL, [x, y]) for x, y in wgs]
    lean_front = lean_front_statements(cookie, wgs)
    tail = tail_queries(queries)
    print(f"{len(tail)} of {len(queries)} queries read the road names one slip away", flush=True)
    lean_tail_index = [lean_geocode_sql(q.text) for q in tail]
    lean_tail_slip = [lean_slip_sql(q.text) for q in tail]
    database = BENCH_DB.rsplit("/", 1)[1]
    connection.close()
    # Hundreds of requests a second from one user: the rate limit is checked (its cost is
    # part of every request) but not reached.
    os.environ["API_THROTTLE_USER"] = "100000000/min"

    rows: list[str] = []
    print(HEADER)
    for connections in args.connections:
        rows += _http_rows(
            args, connections, cookie, database, f"/api/layers/categories/{category.pk}/",
            locate_paths, geocode_paths,
        )  # fmt: skip
        if not args.geocode_only:
            rows.append(lean_sql_load("baseline: lean SQL of locate (psycopg)", lean_locate,
                                      connections, args.seconds))  # fmt: skip
            print(rows[-1], flush=True)
            rows.append(lean_sql_load("baseline: lean SQL of locate_fast's statement",
                                      lean_front, connections, args.seconds))  # fmt: skip
            print(rows[-1], flush=True)
        if args.locate_only:
            continue
        if tail:
            for _ in range(2):  # alternated: the machine's load drifts
                rows.append(lean_sql_load("baseline: lean SQL of the tail, index (before)",
                                          lean_tail_index, connections, args.seconds))  # fmt: skip
                print(rows[-1], flush=True)
                rows.append(lean_sql_load("baseline: lean SQL of the tail, one slip (now)",
                                          lean_tail_slip, connections, args.seconds))  # fmt: skip
                print(rows[-1], flush=True)
        rows.append(lean_sql_load("baseline: lean SQL of geocode's index query", lean_geocode,
                                  connections, args.seconds))  # fmt: skip
        rows.append(lean_sql_load("baseline: lean SQL of geocode's road-name query", lean_road,
                                  connections, args.seconds, ROAD_THRESHOLD))  # fmt: skip
    print(f"\nuvicorn, {args.workers} workers; wrk, {args.seconds:g} s per path; "
          f"{os.cpu_count()} cores; load: 1-min average")  # fmt: skip
    print(HEADER)
    print("\n".join(rows))


def _http_rows(
    args: argparse.Namespace,
    connections: int,
    cookie: str,
    database: str,
    floor_path: str,
    locate_paths: list[str],
    geocode_paths: list[str],
) -> list[str]:
    """The ladder, the floor, locate and (unless --locate-only) geocode at `connections`,
    each path on its own server (and the --before checkout's beside)."""
    from bench.server import start_server
    from bench.wrk import run_wrk

    rows: list[str] = []
    at = f" [{connections} conn]"
    # The ladder's lower rungs, each its own server on the same uvicorn settings: what
    # uvicorn and wrk cost, and a Django view with no middleware as the project serves
    # HTTP (bench/floor_bench.py's rungs).
    rungs = [
        ("ladder: bare ASGI app", "bench.floor_apps:app", "/bare/", {}),
        ("ladder: minimal Django view (no middleware)", "gridmgmt.asgi:application",
         "/floor/plain/", {"DJANGO_SETTINGS_MODULE": "bench.floor_settings", "FLOOR_MINIMAL": "1"}),
    ]  # fmt: skip
    for label, app, path, env in [] if args.geocode_only else rungs:
        rung = start_server(BENCH_DB, HOST, PORT, args.workers, app=app, ready=path, env=env)
        try:
            time.sleep(1)  # every worker up
            run_wrk("(warm-up)", f"http://{HOST}:{PORT}", [path], cookie=cookie,
                    connections=connections, seconds=2, server_pid=rung.pid,
                    database=database)  # fmt: skip
            rows.append(
                run_wrk(label + at, f"http://{HOST}:{PORT}", [path], cookie=cookie,
                        connections=connections, seconds=args.seconds, server_pid=rung.pid,
                        database=database).line()
            )  # fmt: skip
            print(rows[-1], flush=True)
        finally:
            rung.terminate()
            rung.wait(timeout=30)
    server = start_server(BENCH_DB, HOST, PORT, args.workers)
    before = start_before(args.before, args.workers) if args.before else None
    try:

        def load(label: str, paths: list[str], seconds: float, old: bool = False) -> None:
            host = before if old else server
            assert host is not None
            port = PORT + 1 if old else PORT
            line = run_wrk(label + at, f"http://{HOST}:{port}", paths, cookie=cookie,
                           connections=connections, seconds=seconds, server_pid=host.pid,
                           database=database).line()  # fmt: skip
            if not label.startswith("("):
                rows.append(line)
            print(line, flush=True)

        # --before: a checkout of an earlier commit. --old-locate-path: where it served
        # the point's areas (/api/geocode/locate/ before /api/layers/locate/ existed).
        old_locate = [p.replace("/api/layers/locate/", args.old_locate_path) for p in locate_paths]
        if not args.geocode_only:
            load("(warm-up: locate)", locate_paths, 3)
            if before:
                load("(warm-up: locate, before)", old_locate, 3, old=True)
        if not args.locate_only:
            load("(warm-up: geocode)", geocode_paths, 5)
            if before:
                load("(warm-up: geocode, before)", geocode_paths, 5, old=True)
        load("baseline: GET one catalogue row (floor)", [floor_path], args.seconds)
        if not args.geocode_only:
            if before:
                load("before: GET locate", old_locate, args.seconds, old=True)
            load("GET /api/layers/locate/ (GCJ-02 point)", locate_paths, args.seconds)
            if before:  # again, alternated: the machine's load drifts
                load("before: GET locate (again)", old_locate, args.seconds, old=True)
                load("GET /api/layers/locate/ (again)", locate_paths, args.seconds)
        if not args.locate_only:
            if before:
                load("before: GET /api/geocode/?q=", geocode_paths, args.seconds, old=True)
            load("GET /api/geocode/?q= (caller's text)", geocode_paths, args.seconds)
            if before and args.geocode_only:  # again, alternated
                load("before: GET /api/geocode/?q= (again)", geocode_paths, args.seconds,
                     old=True)  # fmt: skip
                load("GET /api/geocode/?q= (again)", geocode_paths, args.seconds)
    finally:
        for process in (server, before):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="standard addresses")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--http", action="store_true", help="through the server, with wrk")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[8],
        help="wrk's keep-alive connections, one run of every path per count: 8 or 8,32",
    )
    parser.add_argument(
        "--locate-only",
        action="store_true",
        help="--http: the floor and locate only (no geocoding; --n 20000 addresses suffice)",
    )
    parser.add_argument(
        "--old-locate-path",
        default="/api/geocode/locate/",
        help="--before: where that checkout served locate",
    )
    parser.add_argument(
        "--geocode-only",
        action="store_true",
        help="--http: the floor and geocode only (no ladder, no locate)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--before", help="checkout of an earlier commit to serve beside")
    args = parser.parse_args()
    setup_django()
    ensure_addresses(args.n)

    rng = np.random.default_rng(args.seed)
    picked = sources(args.queries + WARM_UP, rng)
    city = city_name()
    queries = [make_query(source, rng, city) for source in picked]
    warm_up, queries = queries[:WARM_UP], queries[WARM_UP:]
    print(f"{len(queries)} queries (seed {args.seed}), e.g. {queries[0].text} → {queries[0].code}")
    print("index query plan:\n  " + plan_of(queries[0].text).replace("\n", "\n  "))
    if args.http:
        http_bench(queries, rng, args)
        return

    measure("warm-up", warm_up, ours)
    results = [measure("geocode() (normalised, road names | GIN trigram, re-rank)", queries, ours)]
    if not args.skip_baseline:
        print(f"building the baseline's GIN index on the raw text: {build_raw_index():.1f} s")
        try:
            measure("warm-up", warm_up, raw_trigram)
            results.append(
                measure(
                    "baseline: pg_trgm on raw text (GIN, no normalisation)", queries, raw_trigram
                )
            )
        finally:
            drop_raw_index()
        sample = queries[:ILIKE_SAMPLE]
        results.append(
            measure("baseline: ILIKE as /api/layers/addresses/?q= (seq scan)", sample, ilike)
        )
    print_results(results)
    print_misses(results[0], queries)


if __name__ == "__main__":
    main()
