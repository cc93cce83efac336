"""Configuration from the environment fails loudly on values it cannot read."""

from __future__ import annotations

import pytest

from webapp.env import ConfigurationError, env_bool, env_int, env_list, env_str


def test_defaults_apply_when_unset_or_blank(monkeypatch):
    monkeypatch.delenv("LL_X", raising=False)
    assert env_str("LL_X", "d") == "d"
    monkeypatch.setenv("LL_X", "  ")
    assert env_int("LL_X", 7) == 7 and env_bool("LL_X", True) is True and env_list("LL_X", ["a"]) == ["a"]


def test_values_are_parsed(monkeypatch):
    monkeypatch.setenv("LL_X", "off")
    assert env_bool("LL_X", True) is False
    monkeypatch.setenv("LL_X", "a.example, b.example,")
    assert env_list("LL_X", []) == ["a.example", "b.example"]
    monkeypatch.setenv("LL_X", "42")
    assert env_int("LL_X", 0) == 42


@pytest.mark.parametrize(("reader", "raw"), [(env_bool, "maybe"), (env_int, "ten"), (env_int, "-3")])
def test_unreadable_values_name_the_variable(monkeypatch, reader, raw):
    monkeypatch.setenv("LL_X", raw)
    with pytest.raises(ConfigurationError, match="LL_X"):
        reader("LL_X", 1)
