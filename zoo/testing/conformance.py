"""The conformance checks behind :mod:`zoo.testing`."""

from __future__ import annotations

from typing import Any

from zoo.cards import KINDS, Card
from zoo.registry import get_card, load_factory


def check_card(card: Card | str, kind: str | None = None) -> Card:
    """A card is a valid zoo card whose factory can be imported."""
    if isinstance(card, str):
        assert kind is not None, "pass kind= with a component name"
        card = get_card(kind, card)
    assert isinstance(card, Card) and card.kind in KINDS, f"{card!r} is not a zoo card"
    card.validate()
    assert callable(load_factory(card)), f"{card.name}: factory {card.factory!r} is not callable"
    return card


def check_autoencoder(name: Any, size: int | None = None, batch: int = 2, **overrides: Any) -> None:
    """Build with random weights; check shapes, finiteness, determinism and the geometry error.

    ``size`` is the test image side (default: 4 x the downsample factor); ``overrides`` change the
    architecture config (e.g. fewer channels to keep the check fast).
    """
    import torch

    import zoo

    if not isinstance(name, torch.nn.Module):
        check_card(name, "autoencoder")
    torch.manual_seed(0)
    ae = zoo.build_autoencoder(name, pretrained=False, **overrides)
    assert isinstance(ae, zoo.Autoencoder), f"build returned {type(ae).__name__}, not a zoo.Autoencoder"
    f, c, lc = ae.downsample_factor, ae.in_channels, ae.latent_channels
    if ae.card is not None and not overrides:
        card = ae.card
        assert (card.in_channels, card.latent_channels, card.downsample_factor) == (c, lc, f), (
            f"{ae.name}: card geometry {card.in_channels}/{card.latent_channels}/{card.downsample_factor} "
            f"differs from the built model {c}/{lc}/{f}"
        )
    size = size or 4 * f
    x = torch.rand(batch, c, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        z = ae.encode(x)
        assert z.shape == (batch, lc, size // f, size // f), f"{ae.name}: latent shape {tuple(z.shape)}"
        assert torch.isfinite(z).all(), f"{ae.name}: non-finite latent"
        assert torch.equal(z, ae.encode(x)), f"{ae.name}: encode (posterior mode) is not deterministic"
        s1 = ae.encode(x, sample=True, generator=torch.Generator().manual_seed(1))
        s2 = ae.encode(x, sample=True, generator=torch.Generator().manual_seed(1))
        assert torch.equal(s1, s2), f"{ae.name}: encode(sample=True) ignores the generator"
        y = ae.decode(z)
        assert y.shape == x.shape, f"{ae.name}: decode shape {tuple(y.shape)} != input {tuple(x.shape)}"
        assert torch.isfinite(y).all(), f"{ae.name}: non-finite decode"
    if f > 1:
        bad = torch.zeros(1, c, size + 1, size + 1)
        try:
            ae.encode(bad)
        except ValueError as err:
            assert str(size + 1) in str(err), f"{ae.name}: geometry error does not name the size: {err}"
        else:
            raise AssertionError(f"{ae.name}: encode accepted a {size + 1}px image (factor {f})")


def check_denoiser(name: Any, latent_channels: int = 4, size: int = 8, batch: int = 2, **config: Any) -> None:
    """Build with random weights; the output has the latent's shape, is finite and deterministic."""
    import torch

    import zoo

    if not isinstance(name, torch.nn.Module):
        check_card(name, "denoiser")
    torch.manual_seed(0)
    model = zoo.build_denoiser(name, pretrained=False, latent_channels=latent_channels, **config)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, latent_channels, size, size, generator=g)
    cond = torch.randn(batch, latent_channels, size, size, generator=g)
    t = torch.tensor([10.0, 900.0][:batch] + [500.0] * max(0, batch - 2))
    with torch.no_grad():
        out = model(x, t, cond)
        assert out.shape == x.shape, f"denoiser output shape {tuple(out.shape)} != {tuple(x.shape)}"
        assert torch.isfinite(out).all(), "denoiser output is not finite"
        assert torch.equal(out, model(x, t, cond)), "denoiser is not deterministic in eval mode"
    assert getattr(model, "prediction_type", None) in ("x0", "eps", "v"), "denoiser lacks prediction_type"


def check_sampler(name: Any, steps: int = 4, **config: Any) -> None:
    """With a model that returns the true clean latent, the sampler returns it; seeded runs repeat."""
    import torch

    import zoo
    from zoo.samplers.schedules import cosine_schedule

    if isinstance(name, str):
        check_card(name, "sampler")
    sampler = zoo.build_sampler(name, **config)
    schedule = cosine_schedule()
    x0 = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))

    def oracle(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return x0

    def run() -> torch.Tensor:
        start = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
        return sampler(oracle, start, steps, schedule=schedule, generator=torch.Generator().manual_seed(2),
                       disable=True)

    out = run()
    assert out.shape == x0.shape, f"sampler output shape {tuple(out.shape)} != {tuple(x0.shape)}"
    err = (out - x0).abs().max().item()
    assert err < 1e-3, f"sampler does not return the oracle's clean latent (max error {err:.3g})"
    assert torch.equal(out, run()), "sampler is not deterministic for a fixed seed"


def check_backend(name: Any) -> None:
    """A backend card is valid and its factory imports (running it may need a device or an export)."""
    if isinstance(name, str):
        check_card(name, "backend")


def check_component(kind: str, name: str) -> None:
    """Run the conformance check of ``kind`` on component ``name``."""
    checks = {
        "autoencoder": check_autoencoder,
        "denoiser": check_denoiser,
        "sampler": check_sampler,
        "backend": check_backend,
    }
    checks[kind](name)
