import numpy as np
import pytest

from zoo.cards import AutoencoderCard
from zoo.evaluate.reconstruct import crop_to_multiple, load_autoencoder, round_trip

from .helpers import smooth_image

IDENTITY_FACTORY = "tests.evaluate.helpers:build_identity_autoencoder"


@pytest.mark.parametrize("intensity", ["fixed", "minmax"])
@pytest.mark.parametrize("channels", [1, 3])
def test_identity_round_trip_returns_the_image_in_its_own_range(intensity, channels):
    card = AutoencoderCard(name=f"identity-{intensity}-{channels}", factory=IDENTITY_FACTORY,
                           config={"in_channels": channels}, in_channels=channels, latent_channels=channels,
                           downsample_factor=1, intensity=intensity)
    ae = load_autoencoder(card, untrained=True)
    image = 0.2 + 0.5 * smooth_image(np.random.default_rng(0), 16)  # range [0.2, 0.7]
    trip = round_trip(ae, image[None])
    assert trip.latents.shape == (1, channels, 16, 16)
    np.testing.assert_allclose(trip.recon[0], image, atol=1e-6)
    if intensity == "minmax":  # the VAE saw the min-max scaled image in [-1, 1]
        assert float(trip.latents.min()) == pytest.approx(-1, abs=1e-6)
        assert float(trip.latents.max()) == pytest.approx(1, abs=1e-6)


def test_crop_to_multiple():
    image = np.arange(10 * 13, dtype=float).reshape(10, 13)
    out = crop_to_multiple(image, 4)
    assert out.shape == (8, 12) and out[0, 0] == image[1, 0]
    with pytest.raises(ValueError, match="smaller than"):
        crop_to_multiple(image[:3], 4)
