import random
from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest

from layers.models import Tier
from layers.validators import (
    CREDIT_CHARSET,
    InvalidCode,
    component_codes_valid,
    credit_code_check_char,
    credit_codes_valid,
    id_number_check_digit,
    id_numbers_valid,
    normalise_codes,
    validate_area_code,
    validate_component_code,
    validate_credit_code,
    validate_id_number,
    validate_phone,
)

TODAY = date(2025, 6, 30)
# The worked examples of GB 11643-1999 and of GB 32100-2015 practice.
STANDARD_ID = "11010519491231002X"
STANDARD_CREDIT = "91350100M000100Y43"


def test_it_accepts_the_standard_id_example() -> None:
    assert id_number_check_digit(STANDARD_ID[:17]) == "X"
    assert validate_id_number(STANDARD_ID, today=TODAY) == STANDARD_ID


def test_it_normalises_a_lower_case_x_and_surrounding_spaces() -> None:
    assert validate_id_number(" 11010519491231002x\u3000", today=TODAY) == STANDARD_ID


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "为空"),
        ("1101051949123100", "18位, 实为16位"),
        ("11010519491231002X1", "实为19位"),
        ("1101051949123I002X", "第14位 'I' 不是数字"),
        ("11010519491231002Y", "第18位 'Y' 应为数字或X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "第1位 '１' 不是数字"),
        ("99010519491231002X", "地区码 990105 无效: 没有代码为 99 的省份"),
        ("11010519490230002X", "出生日期 19490230 不是有效日期"),
        ("11010519000229002X", "出生日期 19000229 不是有效日期"),  # 1900 was not leap
        ("11010518991231002X", "早于1900年"),
        ("11010520250701002X", "出生日期 20250701 晚于今天"),
        ("110105194912310021", "校验位错误: 应为 X, 实为 1"),
    ],
)
def test_it_says_what_is_wrong_with_an_id_number(value: str, fragment: str) -> None:
    with pytest.raises(InvalidCode, match=fragment):
        validate_id_number(value, today=TODAY)


def test_it_accepts_a_leap_day_birth_and_a_birth_today() -> None:
    leap = "11010520000229" + "123"
    assert validate_id_number(leap + id_number_check_digit(leap), today=TODAY)
    born_today = "110105" + TODAY.strftime("%Y%m%d") + "001"
    assert validate_id_number(born_today + id_number_check_digit(born_today), today=TODAY)


def test_it_refuses_to_compute_a_check_digit_from_non_digits() -> None:
    with pytest.raises(InvalidCode, match="17"):
        id_number_check_digit("1101051949123100")


def test_it_accepts_a_credit_code_and_normalises_case() -> None:
    assert credit_code_check_char(STANDARD_CREDIT[:17]) == "3"
    assert validate_credit_code(" 91350100m000100y43 ") == STANDARD_CREDIT


def test_it_maps_a_credit_check_value_of_31_to_zero() -> None:
    # Find a body whose weighted sum is a multiple of 31: its check character is '0'.
    body = next(
        f"9144010{i:03d}MA59ABCD"[:17]
        for i in range(1000)
        if credit_code_check_char(f"9144010{i:03d}MA59ABCD"[:17]) == "0"
    )
    assert validate_credit_code(body + "0") == body + "0"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "为空"),
        ("91350100M000100Y4", "18位, 实为17位"),
        ("91350100M0001O0Y43", "第14位 'O' 不是允许的字符"),
        ("91350100M000100Y4#", "第18位 '#' 不是允许的字符"),
        ("B1350100M000100Y43", "登记管理部门代码 'B' 无效"),
        ("94350100M000100Y43", "机构类别代码 '4' 不属于登记管理部门 '9'"),
        ("9135A100M000100Y43", "行政区划码 '35A100' 应为数字"),
        ("91990100M000100Y43", "没有代码为 99 的省份"),
        ("91350100M000100Y44", "校验码错误: 应为 3, 实为 4"),
    ],
)
def test_it_says_what_is_wrong_with_a_credit_code(value: str, fragment: str) -> None:
    with pytest.raises(InvalidCode, match=fragment):
        validate_credit_code(value)


def test_it_splits_a_component_code() -> None:
    assert validate_component_code("3205080101000001") == ("320508", "01", "01", "000001")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("320508010100000", "16位数字, 实为15位"),
        ("32050801010000O1", "第15位 'O' 不是数字"),
        ("9905080101000001", "没有代码为 99 的省份"),
        ("3205080701000001", "大类代码 07 无效"),
        ("3205080100000001", "小类代码不能为 00"),
        ("3205080101000000", "流水号不能为 000000"),
    ],
)
def test_it_says_what_is_wrong_with_a_component_code(value: str, fragment: str) -> None:
    with pytest.raises(InvalidCode, match=fragment):
        validate_component_code(value)


def test_it_checks_area_code_lengths_per_tier() -> None:
    assert validate_area_code("440106", Tier.DISTRICT) == "440106"
    assert validate_area_code("440106001", "street") == "440106001"
    assert validate_area_code("440106001002", Tier.COMMUNITY) == "440106001002"
    assert validate_area_code(" 440106001002003 ", Tier.CELL) == "440106001002003"
    with pytest.raises(InvalidCode, match="应为15位, 实为12位"):
        validate_area_code("440106001002", Tier.CELL)
    with pytest.raises(InvalidCode, match="应为数字"):
        validate_area_code("44010600A", Tier.STREET)
    with pytest.raises(InvalidCode, match="第10-12位不能为000"):
        validate_area_code("440106001000", Tier.COMMUNITY)
    with pytest.raises(InvalidCode, match="没有代码为 00 的省份"):
        validate_area_code("000106", Tier.DISTRICT)


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("13812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("020-12345678", "020-12345678"),
        ("02012345678", "020-12345678"),
        ("(0755)2345678", "0755-2345678"),
        ("020-87654321-123", "020-87654321-123"),
    ],
)
def test_it_normalises_phone_numbers(value: str, normalised: str) -> None:
    assert validate_phone(value) == normalised


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("1381234567", "11位, 实为10位"),
        ("12812345678", "第二位应为3-9"),
        ("020-1234", "无法识别"),
        ("12345", "11位, 实为5位"),
        ("电话", "无法识别"),
    ],
)
def test_it_says_what_is_wrong_with_a_phone_number(value: str, fragment: str) -> None:
    with pytest.raises(InvalidCode, match=fragment):
        validate_phone(value)


# --- Vectorized checks agree with the scalar ones, messages included. ---


def random_id(rng: random.Random) -> str:
    born = date.fromordinal(rng.randint(date(1920, 1, 1).toordinal(), TODAY.toordinal()))
    first17 = rng.choice(["440106", "110105", "320508", "650102"])
    first17 += born.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
    return first17 + id_number_check_digit(first17)


def random_credit_code(rng: random.Random) -> str:
    head = rng.choice(["91", "92", "93", "11", "12", "51", "52", "53", "Y1", "N2", "31"])
    head += rng.choice(["440106", "110105", "100000", "320508"])
    head += "".join(rng.choice(CREDIT_CHARSET) for _ in range(9))
    return head + credit_code_check_char(head)


def random_component_code(rng: random.Random) -> str:
    major = rng.choice(["01", "02", "03", "04", "05", "06", "99"])
    return f"440106{major}{rng.randint(1, 99):02d}{rng.randint(1, 999999):06d}"


ALPHABET = "0123456789xXabIOSZ #-０éA"


def corrupt(rng: random.Random, value: str) -> str:
    """One random mistake of the kinds found in real imports."""
    position = rng.randrange(len(value))
    match rng.randrange(7):
        case 0:
            return value[:position] + rng.choice(ALPHABET) + value[position + 1 :]
        case 1:
            return value[:position] + value[position + 1 :]
        case 2:
            return value + rng.choice(ALPHABET)
        case 3:
            swapped = list(value)
            other = rng.randrange(len(value))
            swapped[position], swapped[other] = swapped[other], swapped[position]
            return "".join(swapped)
        case 4:
            return value.lower()
        case 5:
            return f" {value}\t"
        case _:
            return rng.choice(["", "  ", "None", value[:10]])


def scalar_reason(check: Callable[[str], object], value: str) -> str | None:
    try:
        check(value)
    except InvalidCode as error:
        return str(error)
    return None


@pytest.mark.parametrize(
    ("make", "scalar", "vectorized"),
    [
        (
            random_id,
            lambda v: validate_id_number(v, today=TODAY),
            lambda v: id_numbers_valid(v, today=TODAY),
        ),
        (random_credit_code, validate_credit_code, credit_codes_valid),
        (random_component_code, validate_component_code, component_codes_valid),
    ],
    ids=["id_number", "credit_code", "component_code"],
)
def test_vectorized_and_scalar_checks_agree(
    make: Callable[[random.Random], str],
    scalar: Callable[[str], object],
    vectorized: Callable[[object], tuple[np.ndarray, np.ndarray]],
) -> None:
    rng = random.Random(20250630)
    valid = [make(rng) for _ in range(2000)]
    values = valid + [corrupt(rng, value) for value in valid]
    expected = [scalar_reason(scalar, value) for value in values]

    for column in (np.array(values, dtype=object), pd.Series(values), np.array(values)):
        ok, reasons = vectorized(column)
        assert ok.dtype == bool
        assert ok.tolist() == [reason is None for reason in expected]
        assert reasons.tolist() == expected
    assert sum(reason is None for reason in expected) >= 2000  # the valid half passed
    # Lower case and spaces are normalised, so not every "corruption" is an error.
    assert sum(reason is not None for reason in expected) >= 1000


def test_vectorized_checks_reject_missing_values_as_empty() -> None:
    ok, reasons = id_numbers_valid(pd.Series([STANDARD_ID, None, np.nan]), today=TODAY)
    assert ok.tolist() == [True, False, False]
    empty = "身份证号码为空 (ID number is empty)"
    assert reasons.tolist() == [None, empty, empty]


def test_vectorized_checks_handle_an_empty_column() -> None:
    for check in (id_numbers_valid, credit_codes_valid, component_codes_valid):
        ok, reasons = check(np.array([], dtype=object))
        assert ok.shape == reasons.shape == (0,)


def test_it_normalises_codes_in_bulk() -> None:
    column = pd.Series([" 11010519491231002x", "91350100m000100y43 ", None])
    assert normalise_codes(column).tolist() == [STANDARD_ID, STANDARD_CREDIT, ""]
