"""The VAE's training on the shared epoch loop: it raises the ELBO, resumes exactly, and its
measure leaves the training's random draws alone; the images' binarization and splits."""

from __future__ import annotations

import torch

from deepkata.generative.images import binarize, load_intensities
from deepkata.generative.train import VaeRecipe, VaeTrainer, mean_elbo
from deepkata.generative.vae import MlpVAE, MlpVAEConfig
from tests.generative.resume import whole_and_resumed


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    # two kinds of 6 x 6 images: a bright left half or a bright right half, grey levels near 0.9
    left = torch.zeros(1, 6, 6)
    left[..., :3] = 0.9
    kinds = torch.stack([left, left.flip(-1)])
    pick = torch.randint(0, 2, (48,), generator=g)
    images = kinds[pick] + 0.05
    return images, binarize(images[:16], g)


def trainer(**recipe: object) -> VaeTrainer:
    torch.manual_seed(0)
    images, val = data()
    cfg = VaeRecipe(**{"epochs": 3, "batch": 8, "chunk": 4, "lr": 3e-3, **recipe})  # type: ignore[arg-type]
    return VaeTrainer(MlpVAE(MlpVAEConfig(side=6, latent=2, hidden=(16,))), cfg, images, val, torch.device("cpu"))


def test_training_raises_the_validation_elbo() -> None:
    t = trainer(epochs=12)
    torch.manual_seed(1)
    while not t.done:
        t.train_chunk()
    h = t.history
    assert h["val_elbo"][-1] > h["val_elbo"][0] + 3
    assert set(h) >= {"epoch", "lr", "seconds", "train_loss", "train_reconstruction", "train_kl", "val_elbo", "val_kl"}
    # the epoch's loss is minus the epoch's ELBO: reconstruction - KL, each a mean over the images
    for loss, rec, kl in zip(h["train_loss"], h["train_reconstruction"], h["train_kl"], strict=True):
        assert abs(loss - (kl - rec)) < 1e-4


def test_an_interrupted_run_resumes_to_the_same_weights() -> None:
    whole, resumed = whole_and_resumed(trainer, seed=2)
    assert whole.updates == 18
    assert resumed.history["val_elbo"] == whole.history["val_elbo"]

def test_measuring_draws_from_its_own_generator() -> None:
    t = trainer()
    _, val = data()
    torch.manual_seed(3)
    before = torch.get_rng_state()
    first = mean_elbo(t.vae, val, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    assert mean_elbo(t.vae, val, seed=5) == first  # the same z for the same seed
    assert abs(first["elbo"] - (first["reconstruction"] - first["kl"])) < 1e-5  # float32 sums


def test_binarization_and_the_splits() -> None:
    p = torch.full((200_000,), 0.3)
    bits = binarize(p, torch.Generator().manual_seed(0))
    assert set(bits.unique().tolist()) == {0.0, 1.0} and abs(bits.mean().item() - 0.3) < 0.005
    a = load_intensities("digits", None, validation=100, seed=0)
    b = load_intensities("digits", None, validation=100, seed=0)
    assert a.side == 8 and len(a.val) == 100 and a.train.max() <= 1 and a.train.min() >= 0
    assert torch.equal(a.test_bits, b.test_bits) and torch.equal(a.train, b.train)  # deterministic
    assert a.test_bits.dtype == torch.uint8 and a.test_bits.shape == a.test.shape
    assert len(a.train) + len(a.val) == 1797 - len(a.test)
