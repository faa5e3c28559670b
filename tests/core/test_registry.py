from __future__ import annotations

import dataclasses
import math

import pytest

from deepkata.core import config as config_mod
from deepkata.core.errors import UserError
from deepkata.core.registry import (
    REQUIRED_PRESETS,
    Expectation,
    RegistryError,
    all_katas,
    get_kata,
    register,
)


def test_registering_a_name_twice_is_an_error(toy_kata):
    with pytest.raises(RegistryError, match="already registered"):
        register(toy_kata)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"presets": {"smoke": {}, "default": {}}}, "lacks presets \\['full'\\]"),
        ({"presets": {"smoke": {"stepz": 1}, "default": {}, "full": {}}}, "unknown config key 'stepz'"),
        ({"presets": {"smoke": {"steps": 0}, "default": {}, "full": {}}}, "steps must be > 0"),
        ({"name": "Bad Name"}, "lowercase"),
        ({"config": dict}, "KataConfig"),
        ({"expectations": (Expectation("x", "m", ">=", 1.0, presets=("nope",)),)}, "unknown presets"),
    ],
)
def test_bad_katas_are_refused(toy_kata, change, message):
    bad = dataclasses.replace(toy_kata, name=change.pop("name", "toy-bad"), **change)
    with pytest.raises(RegistryError, match=message):
        register(bad)


def test_get_kata_suggests_the_closest(toy_kata):
    assert get_kata("toy") is toy_kata
    with pytest.raises(UserError) as e:
        get_kata("binary-adition")
    assert "unknown kata 'binary-adition'" in str(e.value)
    assert "binary-addition" in str(e.value)
    assert "did you mean 'binary-addition'?" in str(e.value)
    with pytest.raises(UserError, match="unknown preset of toy 'smok'.*did you mean 'smoke'"):
        toy_kata.preset_config("smok")


@pytest.mark.parametrize(
    "exp, metrics, met",
    [
        (Expectation("", "a", ">=", 1.0), {"a": 1.0}, True),
        (Expectation("", "a", ">=", 1.0), {"a": 0.99}, False),
        (Expectation("", "a", ">=", 1.0, tol=0.02), {"a": 0.99}, True),
        (Expectation("", "a", "<=", 1.0), {"a": 1.01}, False),
        (Expectation("", "a", "<=", 1.0, tol=0.02), {"a": 1.01}, True),
        (Expectation("", "a", "~", 6000, tol=3000), {"a": 8999}, True),
        (Expectation("", "a", "~", 6000, tol=3000), {"a": 2999}, False),
        (Expectation("", "a", "<=", "b"), {"a": 1.0, "b": 2.0}, True),
        (Expectation("", "a", "<=", "b"), {"a": 3.0, "b": 2.0}, False),
        (Expectation("", "a", "<=", "b"), {"a": 1.0, "b": None}, False),
        (Expectation("", "a", ">=", 0.0), {"a": None}, False),
        (Expectation("", "a", ">=", 0.0), {"a": math.nan}, False),
        (Expectation("", "a", ">=", 0.0), {"a": True}, False),
        (Expectation("", "a", ">=", 0.0), {}, False),
    ],
)
def test_expectation_check(exp, metrics, met):
    assert exp.check(metrics)["met"] is met


def test_expectation_notes_why_it_was_not_met():
    assert Expectation("", "a", ">=", 0.0).check({})["note"] == "a was not measured"
    assert Expectation("", "a", ">=", 0.0).check({"a": None})["note"] == "a has no value"
    assert Expectation("", "a", "<=", "b").check({"a": 1})["note"] == "target b was not measured"
    with pytest.raises(ValueError, match="unknown comparison"):
        Expectation("", "a", "==", 0.0)


@pytest.mark.parametrize("kata", all_katas(), ids=lambda k: k.name)
def test_every_registered_kata_is_complete(kata):
    assert set(REQUIRED_PRESETS) <= set(kata.presets)
    for spec in config_mod.fields(kata.config):
        assert spec.help
    for preset in kata.presets:
        kata.preset_config(preset)
    assert kata.description and "\n" not in kata.description
    assert kata.section and kata.topic
    assert kata.expectations_for("smoke"), "a smoke run must check something"
