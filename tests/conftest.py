from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections
from django.test.utils import setup_databases, teardown_databases
from pytest_django.fixtures import Settings
from pytest_django.plugin import DjangoDbBlocker

from audit.roles import separated
from layers.models import Area, Person
from tests.browser import browser, chromium, server  # noqa: F401 (fixtures for the browser tests)
from tests.cast import add_residents, create_cast
from tests.cities import build_small_city
from tests.loop import set_up_loop


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: DjangoDbBlocker,
    django_db_keepdb: bool,
    django_db_createdb: bool,
) -> Iterator[None]:
    """The test database as in production (audit/roles.py): created and migrated by the
    owner role, which then grants the application's role its share; the tests connect as
    the application's role, so they meet the same refusals. With one role for both
    (DATABASE_URL and no DATABASE_OWNER_URL), pytest-django's usual set-up."""
    keepdb = django_db_keepdb and not django_db_createdb
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        original = settings.DATABASES["owner"]["NAME"]
        if separated():
            name = connections["owner"].creation.create_test_db(
                verbosity=verbosity, autoclobber=True, serialize=False, keepdb=keepdb
            )
            _point_default_at(name)
            config = None
        else:
            config = setup_databases(
                verbosity,
                interactive=False,
                keepdb=keepdb,
                aliases=dict.fromkeys(["default", "owner"]),
            )
    yield
    if keepdb:
        return
    with django_db_blocker.unblock():
        if config is not None:
            teardown_databases(config, verbosity=verbosity)
            return
        _point_default_at(None)
        connections["owner"].creation.destroy_test_db(original, verbosity=verbosity)
        settings.DATABASES["default"]["NAME"] = original
        connections["default"].settings_dict["NAME"] = original


def _point_default_at(name: str | None) -> None:
    """Close the application's connections (and pool); open the next at `name`."""
    default: Any = connections["default"]  # the PostgreSQL backend, with its pool
    default.close()
    if "default" in default._connection_pools:
        default.close_pool()
    if name is not None:
        settings.DATABASES["default"]["NAME"] = name
        default.settings_dict["NAME"] = name


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
