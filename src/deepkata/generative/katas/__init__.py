"""The generative topic's katas: importing this module registers them."""

from deepkata.generative.katas import gan, vae, wavenet  # noqa: F401
