"""Each translation architecture's training recipe: the :class:`~deepkata.nlp.train.Schedule`
fields it sets, by registered model name.

The paper's 4,000 warmup steps are more than small_parallel_enja gives in 20 epochs (about 155
batches of 4,096 target tokens an epoch): the Transformer warms up over about two epochs, then
decays as 1/sqrt(step). The GRUs train at a constant rate, without label smoothing.
"""

from __future__ import annotations

from deepkata.nlp.train import Schedule

RECIPES: dict[str, dict[str, float | bool]] = {
    "transformer": {"lr": 1e-3, "warmup": 400, "label_smoothing": 0.1},
    "gru": {"lr": 1e-3, "warmup": 0, "label_smoothing": 0.0},
    "gru-additive": {"lr": 1e-3, "warmup": 0, "label_smoothing": 0.0},
    "gru-dot": {"lr": 1e-3, "warmup": 0, "label_smoothing": 0.0},
}


def schedule_for(model: str, max_tokens: int, clip: float, **overrides: float | bool | None) -> Schedule:
    """``model``'s recipe with the ``overrides`` that are not None (lr, warmup, label_smoothing, anneal, ...)."""
    recipe = RECIPES[model] | {k: v for k, v in overrides.items() if v is not None}
    return Schedule(**recipe, clip=clip, max_tokens=max_tokens)  # type: ignore[arg-type]
