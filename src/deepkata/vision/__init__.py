"""Vision (Day 4, notes 000–003): normalization layers, and the convolutional networks built from them.

- :mod:`~deepkata.vision.norms`: BatchNorm, LayerNorm, InstanceNorm and GroupNorm from scratch,
  in NumPy (backward written out) and as ``nn.Module``s, proven equal to PyTorch's.
- :mod:`~deepkata.vision.resnet`, :mod:`~deepkata.vision.densenet`, :mod:`~deepkata.vision.mobilenet`:
  the architectures, ImageNet-sized and small for 28 x 28 images, in the model registry.
- :mod:`~deepkata.vision.cost`: multiply-accumulates counted by PyTorch's FLOP counter, against
  the closed forms, and CPU latency.
- :mod:`~deepkata.vision.images` and :mod:`~deepkata.vision.train`: image data and the training loop
  the katas share.
"""
