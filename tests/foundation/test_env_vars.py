"""Numeric ZOO_* environment variables: one parser, one line and exit 2 for a bad value."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from zoo.cli import main
from zoo.data.limits import DEFAULT_MAX_PIXELS, max_image_pixels
from zoo.utils.env_vars import EnvVarError, env_int, parse_positive_int


@pytest.mark.parametrize("text, value", [("1", 1), ("268435456", 268435456), ("1_000", 1000), ("1e8", 10**8),
                                         ("2.5e1", 25), (" 7 ", 7)])
def test_positive_whole_numbers_are_accepted(text, value):
    assert parse_positive_int(text) == value


@pytest.mark.parametrize("text", ["1e-3", "1e400", "-5", "0.5", "2.5", "nan", "inf", "lots", "1e", "0x10", ""])
def test_anything_else_is_not_a_positive_whole_number(text):
    assert parse_positive_int(text) is None


@pytest.mark.parametrize("raw", ["1e-3", "1e400", "-1", "inf", "nan", "lots"])
def test_bad_pixel_cap_is_an_error_naming_variable_value_and_form(monkeypatch, raw):
    monkeypatch.setenv("ZOO_MAX_IMAGE_PIXELS", raw)
    with pytest.raises(EnvVarError) as info:
        max_image_pixels()
    message = str(info.value)
    assert f"ZOO_MAX_IMAGE_PIXELS={raw!r}" in message and "positive whole number" in message
    assert "\n" not in message


def test_pixel_cap_values(monkeypatch):
    monkeypatch.delenv("ZOO_MAX_IMAGE_PIXELS", raising=False)
    assert max_image_pixels() == DEFAULT_MAX_PIXELS
    for off in ("0", "none", "OFF"):
        monkeypatch.setenv("ZOO_MAX_IMAGE_PIXELS", off)
        assert max_image_pixels() is None
    monkeypatch.setenv("ZOO_MAX_IMAGE_PIXELS", "1e6")
    assert max_image_pixels() == 1_000_000


def test_env_int_without_off_refuses_zero(monkeypatch):
    monkeypatch.setenv("ZOO_TEST_NUMBER", "0")
    with pytest.raises(EnvVarError, match="ZOO_TEST_NUMBER='0'"):
        env_int("ZOO_TEST_NUMBER", 3)


@pytest.mark.parametrize("raw", ["1e-3", "1e400"])
def test_cli_refuses_a_bad_value_before_any_work(raw):
    result = CliRunner().invoke(main, ["list", "--json"], env={"ZOO_MAX_IMAGE_PIXELS": raw})
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error:") and "ZOO_MAX_IMAGE_PIXELS" in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize("raw", ["x", "0", "-1", "inf"])
def test_a_bad_hub_timeout_is_refused_not_silently_replaced(raw):
    """ZOO_HUB_TIMEOUT goes through the same parser: no silent fall-back to the default, no "off"."""
    result = CliRunner().invoke(main, ["list", "--json"], env={"ZOO_HUB_TIMEOUT": raw})
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ZOO_HUB_TIMEOUT" in lines[0] and "seconds" in lines[0], result.stderr


def test_hub_timeout_is_read_in_whole_seconds(monkeypatch):
    from zoo.weights import _hub_timeout

    monkeypatch.delenv("ZOO_HUB_TIMEOUT", raising=False)
    assert _hub_timeout() == 5.0
    monkeypatch.setenv("ZOO_HUB_TIMEOUT", "2")
    assert _hub_timeout() == 2.0
