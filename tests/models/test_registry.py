"""The model registry: registering, building by keyword, listing, counting parameters."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from torch import nn

from deepkata.core.config import Config, param
from deepkata.core.errors import UserError
from deepkata.models import build_model, count_parameters, get_model, list_models, register_model
from deepkata.models.registry import unregister_model


@dataclass(frozen=True, kw_only=True)
class TinyConfig(Config):
    vocab: int | None = param(None, "vocabulary size; none: from the data", gt=0)
    dim: int = param(4, "width", gt=0)
    tied: bool = param(False, "share the embedding and the output projection")


class Tiny(nn.Module):
    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        if cfg.vocab is None:
            raise ValueError("Tiny needs its vocabulary size")
        self.embed = nn.Embedding(cfg.vocab, cfg.dim)
        self.out = nn.Linear(cfg.dim, cfg.vocab, bias=False)
        if cfg.tied:
            self.out.weight = self.embed.weight


@pytest.fixture
def tiny():
    @register_model("tiny-test", config=TinyConfig, topic="test", example={"vocab": 10})
    def tiny_test(cfg: TinyConfig) -> Tiny:
        """An embedding and its output projection.

        More text that the listing leaves out.
        """
        return Tiny(cfg)

    yield get_model("tiny-test")
    unregister_model("tiny-test")


def test_a_model_is_built_by_name_from_keywords(tiny):
    model = build_model("tiny-test", vocab=7, dim=3)
    assert isinstance(model, Tiny) and model.embed.weight.shape == (7, 3)
    assert tiny.description == "An embedding and its output projection."
    assert "tiny-test" in list_models() and list_models(topic="test") == ["tiny-test"]


def test_parameters_count_a_tied_tensor_once(tiny):
    assert count_parameters(build_model("tiny-test", vocab=10, dim=4)) == 10 * 4 + 4 * 10
    assert count_parameters(build_model("tiny-test", vocab=10, dim=4, tied=True)) == 10 * 4
    assert tiny.example_parameters() == 80  # vocab=10 from the example, dim=4 by default


def test_bad_names_and_fields_are_refused_on_one_line(tiny):
    with pytest.raises(UserError, match="unknown model 'tiny-tset' .*did you mean 'tiny-test'"):
        build_model("tiny-tset")
    with pytest.raises(UserError, match="model tiny-test: unknown config key 'width'"):
        build_model("tiny-test", vocab=3, width=4)
    with pytest.raises(UserError, match="model tiny-test: dim must be > 0, got 0"):
        build_model("tiny-test", vocab=3, dim=0)


def test_a_name_registers_once_and_needs_a_config_class(tiny):
    with pytest.raises(ValueError, match="'tiny-test' is already registered"):
        register_model("tiny-test", config=TinyConfig, topic="test")(lambda cfg: Tiny(cfg))
    with pytest.raises(TypeError, match="its config must be a Config dataclass"):
        register_model("tiny-other", config=dict, topic="test")(lambda cfg: Tiny(cfg))


def test_every_registered_model_builds_at_its_example():
    for name in list_models():
        entry = get_model(name)
        model = entry.build(**entry.example)
        assert isinstance(model, nn.Module)
        assert entry.example_parameters() == sum(p.numel() for p in model.parameters()) > 0, name
