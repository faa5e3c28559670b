"""The model registry: every architecture of every topic, by name, in torchvision's manner.

A topic registers a builder next to its model; the builder takes the model's config::

    @register_model("transformer", config=TransformerConfig, topic="nlp",
                    example={"src_vocab": 8000, "tgt_vocab": 8000})
    def transformer(cfg: TransformerConfig) -> Transformer:
        return Transformer(cfg)

and anyone builds it by name, with the config's fields as keywords (never by position)::

    model = build_model("transformer", src_vocab=8000, tgt_vocab=6000, dim=512)
    list_models()              # ["gru", "gru-additive", ..., "transformer"]
    get_model("transformer")   # its entry: config class, topic, description, example

Named variants of one class are separate entries with their own builders
(``gru``, ``gru-additive``, ``gru-dot``), as torchvision's ``resnet18`` and ``resnet34`` are.
``example`` fills the fields a model takes from its data (vocabulary sizes, observation
sizes) so that ``deepkata models`` can build it and count its parameters.

The registry never imports a topic itself: :func:`load_models` imports the modules listed
in :mod:`deepkata.catalog` and the ``deepkata.models`` entry points of installed plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from deepkata.core import config as config_mod
from deepkata.core.errors import ConfigError, UserError, unknown
from deepkata.core.registry import import_modules


@dataclass(frozen=True)
class ModelEntry:
    name: str
    config: type  # a frozen dataclass deriving from deepkata.core.config.Config
    builder: Callable[[Any], nn.Module]
    topic: str
    description: str  # one line: the builder's docstring's first line
    example: Mapping[str, Any] = field(default_factory=dict)  # data-given fields, for counting parameters

    def make_config(self, **fields: Any) -> Any:
        """The config with ``fields`` over its defaults, checked (unknown names refused)."""
        return config_mod.build(self.config, fields)

    def build(self, **fields: Any) -> nn.Module:
        return self.builder(self.make_config(**fields))

    def example_parameters(self) -> int:
        """Trainable parameters at the default config with the example's data-given fields."""
        return count_parameters(self.build(**self.example))


_MODELS: dict[str, ModelEntry] = {}


def register_model(
    name: str, *, config: type, topic: str, example: Mapping[str, Any] | None = None
) -> Callable[[Callable[[Any], nn.Module]], Callable[[Any], nn.Module]]:
    """Register ``builder(cfg) -> nn.Module`` under ``name``; a name may be registered once."""

    def wrap(builder: Callable[[Any], nn.Module]) -> Callable[[Any], nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        if not config_mod.is_config(config):
            raise TypeError(f"model {name!r}: its config must be a Config dataclass, not {config!r}")
        doc = (builder.__doc__ or "").strip().splitlines()
        _MODELS[name] = ModelEntry(name, config, builder, topic, doc[0] if doc else "", dict(example or {}))
        return builder

    return wrap


_loaded = False


def load_models(modules: Iterable[str] | None = None) -> None:
    """Import the built-in model modules and installed plugins, once."""
    global _loaded
    if modules is not None:
        import_modules(modules)
    elif not _loaded:
        from deepkata.catalog import MODEL_MODULES

        import_modules(MODEL_MODULES, "deepkata.models")
        _loaded = True


def list_models(topic: str | None = None) -> list[str]:
    """Registered model names, sorted; only ``topic``'s when given."""
    load_models()
    return sorted(n for n, e in _MODELS.items() if topic is None or e.topic == topic)


def get_model(name: str) -> ModelEntry:
    load_models()
    try:
        return _MODELS[name]
    except KeyError:
        raise unknown("model", name, _MODELS) from None


def build_model(name: str, **fields: Any) -> nn.Module:
    """The model ``name`` built from its config's ``fields`` (keywords; the rest at defaults)."""
    entry = get_model(name)
    try:
        cfg = entry.make_config(**fields)
    except UserError as e:
        raise ConfigError(f"model {name}: {e}") from None
    return entry.builder(cfg)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters; ``Module.parameters`` yields a shared (tied) tensor once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def unregister_model(name: str) -> None:
    """Remove a model (for tests and interactive sessions)."""
    _MODELS.pop(name, None)
