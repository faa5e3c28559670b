"""The language katas: importing this package registers them."""

from deepkata.nlp.katas import translate

__all__ = ["translate"]
