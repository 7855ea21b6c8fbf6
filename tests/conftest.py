import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from layers.models import Area, Person
from tests.browser import browser, server  # noqa: F401 (fixtures for the browser tests)
from tests.cast import add_residents, create_cast
from tests.cities import build_small_city
from tests.loop import set_up_loop


@pytest.fixture(autouse=True)
def fast_passwords(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def small_city(db: None) -> dict[str, Area]:
    """The rectangular test city of tests/cities.py, by area code."""
    return build_small_city()


@pytest.fixture
def cast(small_city: dict[str, Area]) -> dict[str, User]:
    """The demo users on the small city, plus `nobody`: an account with no post."""
    users = create_cast()
    users["nobody"] = User.objects.create_user("nobody")
    return users


@pytest.fixture
def residents(small_city: dict[str, Area]) -> dict[str, Person]:
    return add_residents(small_city)


@pytest.fixture
def loop(cast: dict[str, User], small_city: dict[str, Area]) -> dict[str, User]:
    """The cast with the case loop's units, catalogue and routing rules."""
    set_up_loop()
    return cast
