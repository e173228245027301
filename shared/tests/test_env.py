"""servicekit.env.Env: validating getters whose errors name the variable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from servicekit.env import Env


@pytest.fixture(autouse=True)
def development_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test in development mode, whatever the outer environment says."""
    monkeypatch.delenv("DJANGO_ENV", raising=False)


def env_with(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Env:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return Env()


# -- database() ---------------------------------------------------------------


def test_database_accepts_postgres_and_adds_a_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = env_with(monkeypatch, DATABASE_URL="postgres://todo:pw@db.internal:5433/todos")

    config = env.database(dev_default="sqlite:////srv/todo/dev.sqlite3")

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("todos", "todo", "pw")
    assert (config["HOST"], config["PORT"]) == ("db.internal", 5433)
    assert config["OPTIONS"]["connect_timeout"] == 2
    assert config["CONN_MAX_AGE"] == 60
    assert config["CONN_HEALTH_CHECKS"] is True


def test_database_keeps_a_connect_timeout_given_in_the_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = env_with(monkeypatch, DATABASE_URL="postgres://u:p@h/db?connect_timeout=10")

    assert env.database(dev_default="")["OPTIONS"]["connect_timeout"] == 10


def test_database_accepts_sqlite_without_postgres_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = env_with(monkeypatch, DATABASE_URL="sqlite:////var/lib/todo/db.sqlite3")

    config = env.database(dev_default="")

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == "/var/lib/todo/db.sqlite3"
    assert "connect_timeout" not in config["OPTIONS"]
    # several processes write one file: wait for the lock instead of "database is locked"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_database_uses_the_dev_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)

    config = Env().database(dev_default="sqlite:////srv/todo/dev.sqlite3")

    assert config["NAME"] == "/srv/todo/dev.sqlite3"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("DATABASE_URL", "nonsense"),
        ("DATABASE_URL", "http://x"),
        ("DATABASE_URL", "mysql://u:secret@h/db"),
        ("DATABASE_URL", "postgres://u:secret@h"),  # no database name
        ("USERS_DATABASE_URL", "redis://:secret@h:6379/0"),
    ],
)
def test_database_rejects_other_urls_naming_the_variable_without_the_password(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    env = env_with(monkeypatch, **{var: value})

    with pytest.raises(ImproperlyConfigured) as excinfo:
        env.database(var, dev_default="")

    message = str(excinfo.value)
    assert message.startswith(f"{var}: ")
    assert "secret" not in message
    assert "postgres://" in message  # tells what is expected


def test_database_rejects_a_non_numeric_port_as_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = env_with(monkeypatch, DATABASE_URL="postgres://u:secret@h:notaport/db")

    with pytest.raises(ImproperlyConfigured, match=r"^DATABASE_URL: "):
        env.database(dev_default="")


# -- redis_url() --------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "redis://127.0.0.1:6379/0",
        "redis://:pw@cache:6379/2",
        "rediss://cache.example.com:6380/1",
        "unix:///run/redis/redis.sock",
    ],
)
def test_redis_url_accepts_redis_rediss_and_unix(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    assert env_with(monkeypatch, REDIS_URL=value).redis_url(dev_default="") == value


@pytest.mark.parametrize(
    "value", ["http://:secret@cache:6379", "memcached://cache:11211", "localhost:6379", "redis://"]
)
def test_redis_url_rejects_others(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    env = env_with(monkeypatch, REDIS_URL=value)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        env.redis_url(dev_default="")

    assert str(excinfo.value).startswith("REDIS_URL: ")
    assert "secret" not in str(excinfo.value)


# -- rate() -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("600/min", (600, 60)),
        ("10/sec", (10, 1)),
        ("5/hour", (5, 3600)),
        ("1/day", (1, 86400)),
        (" 30 / MIN ", (30, 60)),
        ("2/s", (2, 1)),
    ],
)
def test_rate_parses_requests_per_period(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: tuple[int, int]
) -> None:
    assert env_with(monkeypatch, RATE=value).rate("RATE", default="1/sec") == expected


def test_rate_uses_the_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RATE", raising=False)

    assert Env().rate("RATE", default="100/hour") == (100, 3600)


@pytest.mark.parametrize("value", ["0/min", "abc", "10/fortnight", "-5/min", "10"])
def test_rate_rejects_malformed_rates(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    env = env_with(monkeypatch, RATE=value)

    with pytest.raises(ImproperlyConfigured, match=r"^RATE: .* is not a rate"):
        env.rate("RATE", default="1/sec")


# -- positive_number() --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "integer", "expected"),
    [("2.5", False, 2.5), ("3", True, 3), (" 7 ", True, 7)],
)
def test_positive_number_parses(
    monkeypatch: pytest.MonkeyPatch, value: str, integer: bool, expected: float
) -> None:
    result = env_with(monkeypatch, N=value).positive_number("N", default=1, integer=integer)

    assert result == expected
    assert type(result) is type(expected)


def test_positive_number_uses_the_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("N", raising=False)

    assert Env().positive_number("N", default=1.5) == 1.5


@pytest.mark.parametrize(
    ("value", "integer"),
    [
        ("-1", False),
        ("0", False),
        ("abc", False),
        ("1.5", True),
        ("nan", False),
        ("inf", False),
    ],
)
def test_positive_number_rejects(
    monkeypatch: pytest.MonkeyPatch, value: str, integer: bool
) -> None:
    env = env_with(monkeypatch, N=value)

    with pytest.raises(ImproperlyConfigured, match=r"^N: "):
        env.positive_number("N", default=1, integer=integer)


# -- flag() -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(v, True) for v in ("1", "true", "TRUE", "yes", "on", " On ")],
        *[(v, False) for v in ("0", "false", "False", "no", "off")],
    ],
)
def test_flag_reads_true_and_false(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    assert env_with(monkeypatch, DEBUG=value).flag("DEBUG", default=not expected) is expected


@pytest.mark.parametrize("default", [True, False])
def test_flag_uses_the_default_when_unset_or_empty(
    monkeypatch: pytest.MonkeyPatch, default: bool
) -> None:
    assert env_with(monkeypatch, DEBUG="").flag("DEBUG", default=default) is default


def test_flag_rejects_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    env = env_with(monkeypatch, DEBUG="maybe")

    with pytest.raises(ImproperlyConfigured, match=r"^DEBUG: 'maybe' is not a boolean"):
        env.flag("DEBUG", default=False)


# -- http_urls() --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8081/", ["http://127.0.0.1:8081"]),
        (
            "http://todo-1:8081/, https://todo-2.example.com/api/,",
            ["http://todo-1:8081", "https://todo-2.example.com/api"],
        ),
    ],
)
def test_http_urls_splits_and_strips_trailing_slashes(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    assert env_with(monkeypatch, TODO_URLS=value).http_urls("TODO_URLS", dev_default="") == expected


@pytest.mark.parametrize("value", ["foo", "ftp://files:21", "http://ok:1, foo", " , "])
def test_http_urls_rejects_non_http_urls(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    env = env_with(monkeypatch, TODO_URLS=value)

    with pytest.raises(ImproperlyConfigured, match=r"^TODO_URLS: "):
        env.http_urls("TODO_URLS", dev_default="http://127.0.0.1:8081")


# -- http_url() ---------------------------------------------------------------


def test_http_url_keeps_its_default_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_URL", raising=False)
    env = env_with(monkeypatch, DJANGO_ENV="production")

    assert env.http_url("GATEWAY_URL", default="http://127.0.0.1:8080/") == "http://127.0.0.1:8080"


@pytest.mark.parametrize("value", ["foo", "ftp://files:21", "http://a:b", "http://a:1, http://b:2"])
def test_http_url_rejects_what_is_not_one_http_url(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    env = env_with(monkeypatch, GATEWAY_URL=value)

    with pytest.raises(ImproperlyConfigured, match=r"^GATEWAY_URL: "):
        env.http_url("GATEWAY_URL", default="http://127.0.0.1:8080")


# -- required() and DJANGO_ENV ------------------------------------------------


def test_required_falls_back_on_the_dev_default_in_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)

    assert Env().required("SECRET_KEY", dev_default="dev-only") == "dev-only"


@pytest.mark.parametrize("mode", ["development", "production"])
def test_required_returns_a_value_that_is_set(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    env = env_with(monkeypatch, DJANGO_ENV=mode, SECRET_KEY="s3")

    assert env.required("SECRET_KEY", dev_default="dev-only") == "s3"


@pytest.mark.parametrize("value", [None, ""])
def test_required_refuses_the_dev_default_in_production(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    # given
    monkeypatch.delenv("SECRET_KEY", raising=False)
    if value is not None:
        monkeypatch.setenv("SECRET_KEY", value)
    env = env_with(monkeypatch, DJANGO_ENV="production")

    # when / then
    with pytest.raises(
        ImproperlyConfigured, match=r"^SECRET_KEY: must be set when DJANGO_ENV=production$"
    ):
        env.required("SECRET_KEY", dev_default="dev-only")


def test_production_refuses_a_database_dev_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    env = env_with(monkeypatch, DJANGO_ENV="production")

    with pytest.raises(ImproperlyConfigured, match=r"^DATABASE_URL: must be set"):
        env.database(dev_default="sqlite:////srv/todo/dev.sqlite3")


@pytest.mark.parametrize("mode", ["staging", "prod", "Production"])
def test_an_unknown_mode_is_refused(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("DJANGO_ENV", mode)

    with pytest.raises(ImproperlyConfigured, match=rf"^DJANGO_ENV: '{mode}' is not a mode"):
        Env()
