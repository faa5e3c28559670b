"""The vision topic's katas: importing this module registers them."""
from deepkata.vision.katas import norms  # noqa: F401
from deepkata.vision.katas import cnn_zoo  # noqa: F401
from deepkata.vision.katas import mobilenet_cost  # noqa: F401
