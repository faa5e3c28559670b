"""GANs: the losses against their formulas, the saturation the non-saturating loss avoids, the
optimal discriminator, the networks' shapes, and the trainer (it learns, resumes exactly, and
its measures leave the training's draws alone)."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.spatial.distance import jensenshannon

from deepkata.core.config import ConfigError
from deepkata.generative.gan import DCGAN, GanConfig, MlpGAN, discriminator_loss, generator_loss
from deepkata.generative.train import GanRecipe, GanTrainer
from tests.generative.resume import whole_and_resumed

D = torch.float64


def test_the_losses_equal_their_formulas() -> None:
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(50, generator=g, dtype=D) * 4, torch.randn(50, generator=g, dtype=D) * 4
    d = torch.sigmoid
    # L_D = -E log D(x) - E log(1 - D(G(z)))
    expected_d = -(d(real).log().mean() + (1 - d(fake)).log().mean())
    assert abs(discriminator_loss(real, fake).item() - expected_d.item()) < 1e-12
    assert abs(generator_loss(fake, "minimax").item() - (1 - d(fake)).log().mean().item()) < 1e-12
    assert abs(generator_loss(fake, "nonsaturating").item() + d(fake).log().mean().item()) < 1e-12
    with pytest.raises(ValueError, match="unknown generator loss"):
        generator_loss(fake, "wasserstein")  # type: ignore[arg-type]


def test_the_minimax_loss_saturates_where_the_discriminator_wins() -> None:
    """Where D rejects the samples (l = -8, D(G(z)) = 3e-4), the minimax loss's gradient is
    -sigmoid(l) / B, almost nothing; the non-saturating loss's is -sigmoid(-l) / B, almost -1 / B."""
    batch = 10
    grads = {}
    for kind in ("minimax", "nonsaturating"):
        logits = torch.full((batch,), -8.0, dtype=D, requires_grad=True)
        generator_loss(logits, kind).backward()
        grads[kind] = logits.grad
    s = torch.sigmoid(torch.tensor(-8.0, dtype=D))
    assert torch.allclose(grads["minimax"], torch.full((batch,), -s.item() / batch, dtype=D), rtol=1e-12, atol=0)
    assert torch.allclose(grads["nonsaturating"], torch.full((batch,), -(1 - s.item()) / batch, dtype=D), rtol=1e-12, atol=0)
    assert grads["nonsaturating"].abs().min() > 2900 * grads["minimax"].abs().max()
    # where D is fooled (l = +8) it is the other way round: the two losses share the fixed point, not the gradients
    logits = torch.full((batch,), 8.0, dtype=D, requires_grad=True)
    generator_loss(logits, "minimax").backward()
    assert abs(logits.grad[0].item() + (1 - s.item()) / batch) < 1e-12


def test_the_optimal_discriminator_and_the_value_of_the_game() -> None:
    """On six points: the logits minimizing E_data softplus(-l) + E_G softplus(l) give
    D*(x) = p_data / (p_data + p_G), and there V = -log 4 + 2 JSD(p_data, p_G)."""
    p_data = torch.tensor([0.30, 0.25, 0.20, 0.10, 0.10, 0.05], dtype=D)
    p_g = torch.tensor([0.05, 0.15, 0.20, 0.30, 0.20, 0.10], dtype=D)
    logits = torch.zeros(6, dtype=D, requires_grad=True)
    opt = torch.optim.LBFGS([logits], lr=1, max_iter=200, tolerance_grad=1e-14, tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def expected_loss() -> torch.Tensor:
        # the batch means of discriminator_loss become expectations under p_data and p_G
        return (p_data * torch.nn.functional.softplus(-logits)).sum() + (p_g * torch.nn.functional.softplus(logits)).sum()

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = expected_loss()
        loss.backward()
        return loss

    opt.step(closure)
    assert torch.allclose(torch.sigmoid(logits), p_data / (p_data + p_g), atol=1e-8)
    jsd = jensenshannon(p_data.numpy(), p_g.numpy()) ** 2  # scipy gives the square root, in nats by default
    assert abs(-expected_loss().item() - (-math.log(4) + 2 * jsd)) < 1e-10
    # p_G = p_data: D* = 1/2 everywhere and L_D = 2 log 2
    half = torch.zeros(7, dtype=D)
    assert abs(discriminator_loss(half, half).item() - 2 * math.log(2)) < 1e-15


@pytest.mark.parametrize("kind", [MlpGAN, DCGAN])
@pytest.mark.parametrize("side", [8, 28])
def test_the_networks_shapes_and_ranges(kind: type, side: int) -> None:
    torch.manual_seed(0)
    gan = kind(GanConfig(side=side, latent=5, width=8))
    z = gan.noise(3)
    x = gan.generator(z)
    assert z.shape == (3, 5) and x.shape == (3, 1, side, side)
    assert x.abs().max() <= 1
    assert gan.discriminate(x).shape == (3,)
    s = gan.sample(4, generator=torch.Generator().manual_seed(0))
    assert s.shape == (4, 1, side, side) and 0 <= s.min() and s.max() <= 1
    assert gan.training  # sampling leaves the mode as it was


def test_dcgan_rules() -> None:
    gan = DCGAN(GanConfig(side=28, latent=10, width=8))
    layers = [type(m).__name__ for m in gan.generator]
    assert "ConvTranspose2d" in layers and layers[-1] == "Tanh" and "ReLU" in layers and "BatchNorm2d" in layers
    d_layers = [m for m in gan.discriminator if isinstance(m, torch.nn.Conv2d)]
    assert all(m.stride == (2, 2) for m in d_layers) and not any(isinstance(m, torch.nn.MaxPool2d | torch.nn.ReLU) for m in gan.discriminator)
    weights = torch.cat([m.weight.flatten() for m in gan.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)])
    assert abs(weights.std().item() - 0.02) < 0.002  # Radford et al.'s N(0, 0.02)
    with pytest.raises(ConfigError, match="multiple of 4"):
        DCGAN(GanConfig(side=10))


def two_blobs() -> torch.Tensor:
    """48 images 8 x 8 in [0, 1]: a bright 4 x 4 square in the top-left or the bottom-right corner."""
    g = torch.Generator().manual_seed(0)
    a = torch.zeros(1, 8, 8)
    a[:, :4, :4] = 1.0
    kinds = torch.stack([a, a.flip(-1).flip(-2)])
    return kinds[torch.randint(0, 2, (48,), generator=g)]


def trainer(**recipe: object) -> GanTrainer:
    torch.manual_seed(0)
    cfg = GanRecipe(**{"epochs": 3, "batch": 8, "chunk": 4, **recipe})  # type: ignore[arg-type]
    return GanTrainer(DCGAN(GanConfig(side=8, latent=4, width=8)), cfg, two_blobs(), torch.device("cpu"), grid=6)


def test_the_generator_learns_the_two_blobs() -> None:
    t = trainer(epochs=60, lr=2e-3)
    torch.manual_seed(1)
    while not t.done:
        t.train_chunk()
    assert t.diverged is None
    h = t.history
    assert set(h) >= {"train_d_loss", "train_g_loss", "train_d_real", "train_d_fake", "train_loss"}
    for loss, d, g in zip(h["train_loss"], h["train_d_loss"], h["train_g_loss"], strict=True):
        assert abs(loss - (d + g)) < 1e-5
    x = t.gan.sample(200, generator=torch.Generator().manual_seed(0))[:, 0]
    corner = torch.stack([x[:, :4, :4].mean((1, 2)), x[:, 4:, 4:].mean((1, 2))], 1)  # brightness of each corner
    elsewhere = torch.cat([x[:, :4, 4:], x[:, 4:, :4]], 1).mean((1, 2))
    # most samples light one corner and leave the off-diagonal quarters dark; both corners occur
    assert (corner.max(1).values > 0.6).float().mean() > 0.8 and elsewhere.mean() < 0.2
    assert min((corner[:, 0] > corner[:, 1]).float().mean(), (corner[:, 1] > corner[:, 0]).float().mean()) > 0.1
    assert len(t.grids) == 60 and t.grids[-1].shape == (6, 1, 8, 8) and t.grids[-1].dtype == torch.uint8


def test_an_interrupted_gan_resumes_to_the_same_weights() -> None:
    whole, resumed = whole_and_resumed(trainer, seed=2)
    assert whole.updates == 18
    assert resumed.history["train_d_loss"] == whole.history["train_d_loss"]
    assert all(torch.equal(a, b) for a, b in zip(whole.grids, resumed.grids, strict=True))

def test_the_minimax_generator_is_trained_by_its_own_loss() -> None:
    """One update each from the same start: the generators move differently, the discriminators alike."""
    outcomes = {}
    for kind in ("minimax", "nonsaturating"):
        t = trainer(loss=kind, chunk=1)
        torch.manual_seed(3)
        t.train_chunk()
        outcomes[kind] = t
    d = [dict(o.gan.discriminator.named_parameters()) for o in outcomes.values()]
    g = [dict(o.gan.generator.named_parameters()) for o in outcomes.values()]
    assert all(torch.equal(d[0][k], d[1][k]) for k in d[0])
    assert not all(torch.equal(g[0][k], g[1][k]) for k in g[0])
