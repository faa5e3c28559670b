"""The judge: a small classifier trained in the project, whose features and predictions measure generated samples.

Generated images are scored the way FID scores them (Heusel et al. 2017), with this judge in
place of Inception-v3: the Fréchet distance between Gaussians fitted to its penultimate
features (global-average-pooled, :mod:`deepkata.generative.measures`) of real and of generated
images, "classifier-FID"; and the spread of its predicted classes over the samples (class
coverage; one class taking every sample is mode collapse). The judge is a small VGG-style CNN
with BatchNorm, trained on the shared epoch loop as one job of the kata that uses it, so its
weights are cached in that run's folder (the engine's state) and never downloaded. Its figures are comparable only between runs
that share it; its test accuracy is reported beside them, since a judge that cannot tell the
classes apart measures little. Audio is judged the same way, as log-spectrogram images
(:func:`log_spectrogram`).

Shapes: images (N, 1, S, S) in [0, 1]; features (N, F); classes (N,).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepkata.core import checkpoint
from deepkata.core.engine import JobContext
from deepkata.core.trainer import EpochRecipe, EpochTrainer, TrainerJob
from deepkata.generative.images import Intensities
from deepkata.generative.measures import Coverage, FeatureStats, class_coverage, feature_stats, frechet_distance

__all__ = ["Judge", "JudgeCNN", "JudgeTrainer", "Labelled", "judge_job", "judge_model", "judge_recipe", "judge_splits", "log_spectrogram", "standardized"]


class JudgeCNN(nn.Module):
    """A VGG-style CNN: stages of two 3 x 3 convolutions with BatchNorm and ReLU, 2 x 2 max pooling
    between stages, global average pooling (the features) and a linear layer (the logits)."""

    def __init__(self, classes: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.widths = widths
        layers: list[nn.Module] = []
        channels = 1
        for i, width in enumerate(widths):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            for _ in range(2):
                layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, classes)

    def forward(self, x: Tensor) -> Tensor:  # x (B, 1, S, S) standardized
        return self.head(self.features(x).mean(dim=(2, 3)))  # (B, classes)


def judge_model(side: int, classes: int) -> JudgeCNN:
    """Three stages (16, 32, 64 channels) for 28 x 28 or 32 x 32 inputs; two (16, 32) below 16 x 16."""
    return JudgeCNN(classes, (16, 32, 64) if side >= 16 else (16, 32))


def judge_recipe(epochs: int) -> EpochRecipe:
    """AdamW at 3e-3 with warm-up and cosine decay, batches of 128."""
    return EpochRecipe(epochs=epochs, batch=128, lr=3e-3, weight_decay=1e-4, chunk=50)


@dataclass(frozen=True)
class Labelled:
    """Standardized images (N, 1, S, S) and labels (N,) of the three splits; the standardization used."""

    train: tuple[Tensor, Tensor]
    val: tuple[Tensor, Tensor]
    test: tuple[Tensor, Tensor]
    class_names: tuple[str, ...]
    mean: float
    std: float

    @property
    def classes(self) -> int:
        return len(self.class_names)


class JudgeTrainer(EpochTrainer):
    """The judge on the shared epoch loop: cross-entropy, training and validation accuracy."""

    def __init__(self, model: JudgeCNN, cfg: EpochRecipe, data: Labelled, device: torch.device) -> None:
        super().__init__(model, cfg, len(data.train[1]), device)
        self.data = data

    def loss(self, index: Tensor) -> tuple[Tensor, dict[str, float]]:
        x, y = self.data.train[0][index].to(self.device), self.data.train[1][index].to(self.device)
        logits = self.model(x)
        return F.cross_entropy(logits, y), {"accuracy": float((logits.argmax(1) == y).float().mean())}

    @torch.no_grad()
    def accuracy(self, split: tuple[Tensor, Tensor]) -> float:
        self.model.eval()
        predicted = torch.cat([self.model(x.to(self.device)).argmax(1).cpu() for x in split[0].split(500)])
        return float((predicted == split[1]).float().mean())

    def measure(self, last: bool) -> dict[str, float]:
        return {"val_accuracy": self.accuracy(self.data.val)}

    def outputs(self) -> dict[str, Any]:
        return {"test_accuracy": self.accuracy(self.data.test), "mean": self.data.mean, "std": self.data.std}


def standardized(
    train: tuple[Tensor, Tensor], val: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], class_names: tuple[str, ...]
) -> Labelled:
    """Images (N, 1, S, S) and labels (N,) of three splits, standardized by the training pixels' mean and standard deviation."""
    mean, std = float(train[0].mean()), float(train[0].std())
    return Labelled(*(((x - mean) / std, y.long()) for x, y in (train, val, test)), class_names=class_names, mean=mean, std=std)  # type: ignore[arg-type]


def judge_splits(images: Intensities) -> Labelled:
    """The images with their labels, standardized."""
    return standardized((images.train, images.train_labels), (images.val, images.val_labels), (images.test, images.test_labels), images.class_names)


def log_spectrogram(waves: list[Tensor], *, length: int = 8000, side: int = 32) -> Tensor:
    """Recordings (each (T,) in [-1, 1]) as side x side images (N, 1, side, side) for the judge: each
    cut or padded to ``length`` samples, a Hann-windowed STFT (256 samples, hop 64), log(1 + 10 |X|),
    averaged down to ``side`` frequency bands x ``side`` time frames."""
    x = torch.stack([F.pad(w[:length].float(), (0, max(0, length - len(w)))) for w in waves])  # (N, length)
    spec = torch.stft(x, 256, hop_length=64, window=torch.hann_window(256), pad_mode="constant", return_complex=True).abs()  # (N, 129, frames)
    return F.adaptive_avg_pool2d(torch.log1p(10 * spec).unsqueeze(1), (side, side))


def judge_job(data: Labelled, epochs: int, ctx: JobContext) -> TrainerJob:
    """The judge's training as an engine job; its result carries the weights (``state``), the test accuracy and the standardization."""
    return TrainerJob(JudgeTrainer(judge_model(int(data.train[0].shape[-1]), data.classes), judge_recipe(epochs), data, ctx.device), ctx)


class Judge:
    """A trained judge on ``device``: features, predicted classes, FID against reference statistics, coverage."""

    def __init__(self, model: JudgeCNN, mean: float, std: float, device: torch.device) -> None:
        self.model, self.mean, self.std, self.device = model.to(device).eval(), mean, std, device
        self.classes = model.head.out_features

    def save(self, path: Path) -> None:
        """Its weights and standardization as a checkpoint (atomic; read back by :meth:`load`)."""
        state = {k: v.cpu() for k, v in self.model.state_dict().items()}
        checkpoint.save(path, {"state": state, "mean": self.mean, "std": self.std, "widths": list(self.model.widths), "classes": self.classes})

    @classmethod
    def load(cls, path: Path, device: torch.device) -> Judge:
        """A judge saved by :meth:`save` (e.g. a run folder's ``judge.pt``)."""
        saved = checkpoint.load(path)
        model = JudgeCNN(int(saved["classes"]), tuple(saved["widths"]))
        model.load_state_dict(saved["state"])
        return cls(model, float(saved["mean"]), float(saved["std"]), device)

    @classmethod
    def from_result(cls, result: dict[str, Any], side: int, classes: int, device: torch.device) -> Judge:
        """The judge of a finished :func:`judge_job`."""
        model = judge_model(side, classes)
        model.load_state_dict(result["state"])
        return cls(model, float(result["mean"]), float(result["std"]), device)

    @torch.no_grad()
    def _outputs(self, images: Tensor, batch: int = 500) -> tuple[Tensor, Tensor]:
        features, classes = [], []
        for x in images.split(batch):
            h = self.model.features(((x.float().to(self.device)) - self.mean) / self.std).mean(dim=(2, 3))  # (B, F)
            features.append(h.cpu())
            classes.append(self.model.head(h).argmax(1).cpu())
        return torch.cat(features), torch.cat(classes)

    def features(self, images: Tensor) -> Tensor:
        """Penultimate features (N, F) of images (N, 1, S, S) in [0, 1]."""
        return self._outputs(images)[0]

    def predict(self, images: Tensor) -> Tensor:
        """Predicted classes (N,)."""
        return self._outputs(images)[1]

    def stats(self, images: Tensor) -> FeatureStats:
        return feature_stats(self.features(images))

    def score(self, images: Tensor, reference: FeatureStats) -> tuple[float, Coverage]:
        """Classifier-FID of ``images`` against ``reference`` and their class coverage."""
        features, classes = self._outputs(images)
        return frechet_distance(feature_stats(features), reference), class_coverage(classes, self.classes)

