"""Models: the registry of every topic's architectures, and the architectures topics share.

``register_model``, ``build_model``, ``list_models``, ``get_model`` and ``count_parameters``
are the registry (:mod:`deepkata.models.registry`); :mod:`deepkata.models.sequence` is the
recurrent family that the rnn, timeseries and nlp topics build on.
"""

from deepkata.models.registry import build_model, count_parameters, get_model, list_models, register_model

__all__ = ["build_model", "count_parameters", "get_model", "list_models", "register_model"]
