"""The built-in kata modules, one per topic: importing each registers its katas.

The platform core never imports a topic; :func:`deepkata.core.registry.load_katas` imports
these, then any plugin that declares a ``deepkata.katas`` entry point.
"""

KATA_MODULES: tuple[str, ...] = (
    "deepkata.rnn.katas",
)
