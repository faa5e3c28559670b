"""The words topic's katas: importing this module registers them."""

from deepkata.words.katas import word_vectors  # noqa: F401
