"""The detection topic's katas: importing this module registers them."""

from deepkata.detection.katas import segment, ssd  # noqa: F401
