from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepkata.core import config as C
from deepkata.core.errors import ConfigError, UserError


@dataclass(frozen=True, kw_only=True)
class Cfg(C.KataConfig):
    hidden: int = C.param(16, "hidden units", gt=0)
    lr: float = C.param(0.1, "learning rate", gt=0, le=10)
    act: Literal["sigmoid", "tanh", "relu"] = C.param("sigmoid", "activation")
    verbose: bool = C.param(False, "talk more")
    name: str = C.param("x", "a name")
    clip: float | None = C.param(None, "clip norm", gt=0)
    lengths: tuple[int, ...] = C.param((10, 50), "sequence lengths", gt=0)

    def validate(self) -> None:
        if self.verbose and self.name == "quiet":
            raise ConfigError("verbose, name: a quiet run cannot be verbose")


SPECS = {s.name: s for s in C.fields(Cfg)}


def parse(name: str, text: str):
    return C.parse_value(SPECS[name], text)


def test_fields_carry_type_help_and_bounds():
    assert list(SPECS) == ["hidden", "lr", "act", "verbose", "name", "clip", "lengths"]
    assert SPECS["hidden"].help == "hidden units"
    assert SPECS["lr"].describe_bounds() == "> 0, <= 10"
    assert SPECS["act"].choices == ("sigmoid", "tanh", "relu")
    assert SPECS["act"].type_name == "sigmoid|tanh|relu"
    assert SPECS["clip"].type_name == "float or none"
    assert SPECS["lengths"].type_name == "int,..."


@pytest.mark.parametrize(
    "name, text, value",
    [
        ("hidden", "32", 32),
        ("hidden", "1e4", 10_000),
        ("lr", "0.25", 0.25),
        ("lr", "1", 1.0),
        ("act", "tanh", "tanh"),
        ("verbose", "yes", True),
        ("verbose", "0", False),
        ("name", " spaced ", "spaced"),
        ("clip", "none", None),
        ("clip", "2.5", 2.5),
        ("lengths", "10,100, 200", (10, 100, 200)),
    ],
)
def test_parse_value(name, text, value):
    assert parse(name, text) == value
    assert type(parse(name, text)) is type(value)


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("hidden", "abc", "hidden expects int, got 'abc' (hidden units)"),
        ("hidden", "1.5", "hidden expects int, got '1.5'"),
        ("hidden", "0", "hidden must be > 0, got 0"),
        ("lr", "-0.1", "lr must be > 0, <= 10, got -0.1"),
        ("lr", "nan", "lr must be a finite number"),
        ("lr", "inf", "lr must be a finite number"),
        ("verbose", "maybe", "verbose expects bool"),
        ("act", "sigmod", "unknown value for act 'sigmod' (valid: relu, sigmoid, tanh); did you mean 'sigmoid'?"),
        ("clip", "0", "clip must be > 0"),
        ("lengths", "10,x", "lengths expects int"),
        ("lengths", "10,-1", "lengths must be > 0"),
        ("lengths", ",", "lengths must not be empty"),
    ],
)
def test_parse_value_errors_name_the_field(name, text, message):
    with pytest.raises(UserError) as e:
        parse(name, text)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


@given(st.integers(min_value=1, max_value=10**12))
def test_int_roundtrip(n):
    assert parse("hidden", str(n)) == n


@given(st.floats(min_value=1e-300, max_value=10, allow_nan=False))
def test_float_roundtrip(x):
    assert parse("lr", repr(x)) == x


def test_construction_checks_types_bounds_and_cross_field_rules():
    assert Cfg().hidden == 16
    with pytest.raises(ConfigError, match="hidden must be > 0"):
        Cfg(hidden=0)
    with pytest.raises(ConfigError, match="hidden expects int"):
        Cfg(hidden=2.0)
    with pytest.raises(ConfigError, match="hidden expects int"):
        Cfg(hidden=True)
    with pytest.raises(UserError, match="unknown value for act"):
        Cfg(act="gelu")
    with pytest.raises(ConfigError, match="a quiet run cannot be verbose"):
        Cfg(verbose=True, name="quiet")
    with pytest.raises(ConfigError, match="must be a tuple"):
        Cfg(lengths=[1, 2])


def test_parse_assignments_and_build():
    values = C.parse_assignments(Cfg, ["hidden=32", "act = relu", "lengths=5"])
    assert values == {"hidden": 32, "act": "relu", "lengths": (5,)}
    cfg = C.build(Cfg, {"hidden": 8, "lr": 0.5}, values)
    assert (cfg.hidden, cfg.lr, cfg.act) == (32, 0.5, "relu")
    assert C.changed(cfg, Cfg()) == {"hidden": 32, "lr": 0.5, "act": "relu", "lengths": (5,)}


def test_unknown_key_suggests_the_closest():
    with pytest.raises(UserError) as e:
        C.parse_assignments(Cfg, ["hiden=3"])
    assert "unknown config key 'hiden'" in str(e.value)
    assert "did you mean 'hidden'?" in str(e.value)
    with pytest.raises(UserError, match="--set expects key=value, got 'hidden'"):
        C.parse_assignments(Cfg, ["hidden"])
    with pytest.raises(UserError, match="unknown config key 'nope'"):
        C.build(Cfg, {"nope": 1})


def test_dict_roundtrip():
    cfg = Cfg(hidden=3, clip=1.5, lengths=(1, 2, 3))
    data = C.to_dict(cfg)
    assert data["lengths"] == [1, 2, 3]
    assert C.from_dict(Cfg, data) == cfg


def test_fields_need_param_with_help_and_are_keyword_only():
    @dataclass(frozen=True, kw_only=True)
    class NoHelp(C.KataConfig):
        x: int = 3

    with pytest.raises(TypeError, match="no help text"):
        C.fields(NoHelp)

    @dataclass(frozen=True)
    class Positional(C.KataConfig):
        x: int = C.param(3, "x")

    with pytest.raises(TypeError, match="Positional.x is positional: declare configs with @dataclass"):
        C.fields(Positional)
    with pytest.raises(TypeError):
        Cfg(16)  # type: ignore[misc]  # a config is never built by position
    with pytest.raises(ValueError, match="one-line help"):
        C.param(1, "two\nlines")


# --- nested configs --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Net(C.Config):
    dim: int = C.param(8, "width", gt=0)
    act: Literal["relu", "tanh"] = C.param("relu", "nonlinearity")
    sizes: tuple[int, ...] = C.param((3, 4), "layer sizes", gt=0)

    def validate(self) -> None:
        if self.act == "tanh" and self.dim > 64:
            raise ConfigError("act, dim: tanh nets here are at most 64 wide")


@dataclass(frozen=True, kw_only=True)
class Outer(C.KataConfig):
    lr: float = C.param(0.1, "learning rate", gt=0)
    model: Net = C.param(Net(), "the network")
    critic: Net = C.param(Net(dim=4), "the second network")


def test_nested_fields_have_dotted_names_and_their_own_defaults():
    flat = {s.name: s for s in C.flat_fields(Outer)}
    assert list(flat) == ["lr", "model.dim", "model.act", "model.sizes", "critic.dim", "critic.act", "critic.sizes"]
    assert flat["critic.dim"].default == 4 and flat["model.dim"].default == 8
    assert flat["model.dim"].help == "width" and flat["model.dim"].describe_bounds() == "> 0"


def test_set_reaches_nested_fields_and_layers_merge_dotted_and_nested():
    overrides = C.parse_assignments(Outer, ["model.dim=32", "critic.sizes=5,6,7", "lr=0.5"])
    assert overrides == {"model.dim": 32, "critic.sizes": (5, 6, 7), "lr": 0.5}
    preset = {"model": {"act": "tanh", "dim": 16}, "critic.dim": 2}
    cfg = C.build(Outer, preset, overrides)
    assert cfg == Outer(lr=0.5, model=Net(dim=32, act="tanh"), critic=Net(dim=2, sizes=(5, 6, 7)))
    assert C.changed(cfg, Outer()) == {"lr": 0.5, "model.dim": 32, "model.act": "tanh", "critic.dim": 2, "critic.sizes": (5, 6, 7)}
    assert C.flatten(cfg)["critic.sizes"] == (5, 6, 7)


def test_nested_configs_round_trip_through_json_data():
    cfg = C.build(Outer, {"model.dim": 12, "critic.act": "tanh"})
    data = C.to_dict(cfg)
    assert data == {"lr": 0.1, "model": {"dim": 12, "act": "relu", "sizes": [3, 4]}, "critic": {"dim": 4, "act": "tanh", "sizes": [3, 4]}}
    assert C.from_dict(Outer, data) == cfg


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("model.dmi=3", "unknown config key 'model.dmi' (valid: critic.act, critic.dim, critic.sizes, lr, model.act, model.dim, model.sizes); did you mean 'model.dim'?"),
        ("model=3", "unknown config key 'model'"),
        ("lr.x=1", "unknown config key 'lr.x'"),
        ("model.dim=0", "model.dim must be > 0, got 0 (width)"),
        ("model.dim=abc", "model.dim expects int, got 'abc' (width)"),
        ("critic.act=gelu", "unknown value for critic.act 'gelu' (valid: relu, tanh)"),
    ],
)
def test_nested_errors_name_the_dotted_field(assignment, message):
    with pytest.raises(UserError) as e:
        C.parse_assignments(Outer, [assignment])
    assert message in str(e.value)


def test_nested_values_are_checked_when_built():
    with pytest.raises(ConfigError, match="act, dim: tanh nets here are at most 64 wide"):
        C.build(Outer, {"model.act": "tanh", "model.dim": 128})
    with pytest.raises(ConfigError, match="model expects a Net"):
        Outer(model={"dim": 3})  # type: ignore[arg-type]
    with pytest.raises(UserError, match="unknown config key 'model.width'"):
        C.build(Outer, {"model": {"width": 3}})


def test_require_distinct_names_the_repeated_value() -> None:
    from deepkata.core.config import require_distinct

    require_distinct("models", ("a", "b"))
    with pytest.raises(ConfigError, match="models: 'b' is listed twice"):
        require_distinct("models", ("a", "b", "c", "b"))
