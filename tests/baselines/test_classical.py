"""Tests for mlsm/baselines/classical.py and mlsm/baselines/lime.py."""

import numpy as np
import pytest
import scipy.sparse as sparse
from skimage import color

from mlsm.baselines.base import Method
from mlsm.baselines.classical import (
    CLAHE,
    GammaCorrection,
    HistogramEqualization,
    Identity,
    InvalidImageError,
    validate_image,
)
from mlsm.baselines.lime import (
    LIME,
    initial_illumination,
    refine_illumination,
    smoothing_system,
    strategy3_weights,
)

BRIGHTENERS = {
    "gamma": GammaCorrection,
    "gamma_auto": lambda: GammaCorrection("auto"),
    "he": HistogramEqualization,
    "clahe": CLAHE,
    "lime": LIME,
}
ALL_METHODS = {"identity": Identity, **BRIGHTENERS}


def dark_image(height=37, width=53, seed=0):
    """A dark, textured, coloured test image (odd size) with values in [0, 0.3]."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    shading = 0.05 + 0.2 * (cols / max(width - 1, 1))
    tint = np.array([1.0, 0.8, 0.6])
    texture = 1 + 0.3 * rng.standard_normal((height, width, 1))
    image = shading[..., None] * tint * texture
    return np.clip(image, 0, 0.3).astype(np.float32)


def total_variation(map2d):
    return np.abs(np.diff(map2d, axis=0)).sum() + np.abs(np.diff(map2d, axis=1)).sum()


@pytest.mark.parametrize("key", ALL_METHODS)
def test_shape_dtype_range_on_odd_size(key):
    method = ALL_METHODS[key]()
    assert isinstance(method, Method)
    image = dark_image()
    out = method(image)
    assert out.shape == image.shape
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("key", BRIGHTENERS)
def test_brightens_a_dark_image(key):
    image = dark_image()
    out = BRIGHTENERS[key]()(image)
    assert out.mean() > image.mean() + 0.05


@pytest.mark.parametrize("key", ALL_METHODS)
def test_deterministic_and_input_untouched(key):
    image = dark_image(seed=3)
    original = image.copy()
    method = ALL_METHODS[key]()
    first, second = method(image), method(image)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(image, original)


@pytest.mark.parametrize("key", ALL_METHODS)
@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 17, 3), (17, 1, 3), (2, 2, 3)])
def test_tiny_images(key, shape):
    image = np.random.default_rng(1).uniform(0, 0.3, shape).astype(np.float32)
    out = ALL_METHODS[key]()(image)
    assert out.shape == shape and out.dtype == np.float32
    assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("key", ALL_METHODS)
@pytest.mark.parametrize("value", [0.0, 1.0])
def test_black_stays_black_and_white_stays_white(key, value):
    image = np.full((9, 11, 3), value, np.float32)
    out = ALL_METHODS[key]()(image)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, value, atol=1e-5)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 4), np.float32), "shape"),
        (np.zeros((4, 4, 4), np.float32), "shape"),
        (np.zeros((0, 4, 3), np.float32), "shape"),
        (np.zeros((4, 4, 3), np.uint8), "dtype"),
        (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
        (np.full((4, 4, 3), 2.0, np.float32), "[0, 1]"),
        ([[[0.0, 0.0, 0.0]]], "numpy array"),
    ],
)
def test_invalid_input_is_a_typed_error(bad, message):
    with pytest.raises(InvalidImageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_image(bad)
    with pytest.raises(InvalidImageError):
        LIME()(bad)


def test_gamma_exact_values():
    image = np.full((2, 3, 3), 0.25, np.float32)
    np.testing.assert_allclose(GammaCorrection(0.5)(image), 0.5, rtol=1e-6)
    np.testing.assert_allclose(GammaCorrection()(image), 0.25 ** (1 / 2.2), rtol=1e-6)


def test_gamma_auto_sends_the_mean_to_one_half():
    image = np.full((3, 5, 3), 0.1, np.float32)
    method = GammaCorrection("auto")
    assert method.gamma_for(image) == pytest.approx(np.log(0.5) / np.log(0.1))
    np.testing.assert_allclose(method(image), 0.5, rtol=1e-5)
    bright = np.full((3, 5, 3), 0.8, np.float32)
    np.testing.assert_allclose(method(bright), 0.5, rtol=1e-5)  # auto darkens bright images


@pytest.mark.parametrize("gamma", [0, -1, float("nan"), "fast"])
def test_gamma_rejects_bad_exponent(gamma):
    with pytest.raises(ValueError, match="gamma"):
        GammaCorrection(gamma)


def test_he_keeps_hue_and_spreads_value():
    image = dark_image()
    out = HistogramEqualization()(image)
    hsv_in, hsv_out = color.rgb2hsv(image), color.rgb2hsv(out)
    coloured = hsv_in[..., 1] > 0.2
    hue_gap = np.abs(hsv_in[..., 0] - hsv_out[..., 0])[coloured]
    assert np.minimum(hue_gap, 1 - hue_gap).max() < 0.01
    value = hsv_out[..., 2]
    assert value.max() == pytest.approx(1.0, abs=1e-5)
    assert value.mean() == pytest.approx(0.5, abs=0.05)  # equalised: roughly uniform


def test_clahe_works_on_lightness_only():
    grey = np.repeat(dark_image()[..., :1], 3, axis=2)
    out = CLAHE()(grey)
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=2e-3)  # grey stays grey
    np.testing.assert_allclose(out[..., 1], out[..., 2], atol=2e-3)
    assert out.mean() > grey.mean() + 0.05


def test_clahe_is_local():
    # Two halves with the same texture at different brightness: global HE keeps the left half
    # darker than the right; CLAHE (with a clip limit loose enough to act) equalises each
    # region, so the halves end up much closer.
    rng = np.random.default_rng(0)
    texture = rng.uniform(0, 0.05, (64, 32))
    lum = np.concatenate([texture, texture + 0.2], axis=1)
    image = np.repeat(lum[..., None], 3, axis=2).astype(np.float32)
    he_out, clahe_out = HistogramEqualization()(image), CLAHE(clip_limit=0.05, kernel_size=16)(image)
    he_gap = he_out[:, 32:].mean() - he_out[:, :32].mean()
    clahe_gap = clahe_out[:, 32:].mean() - clahe_out[:, :32].mean()
    assert clahe_gap < 0.3 * he_gap


# ---------------------------------------------------------------- LIME


def test_lime_initial_illumination_is_channel_max():
    image = dark_image()
    np.testing.assert_array_equal(initial_illumination(image), image.max(axis=2))


def test_lime_refined_illumination_bounds_and_smoothness():
    image = dark_image(seed=5)
    t_hat, refined = LIME().illumination(image)
    assert refined.shape == t_hat.shape
    assert np.all(refined > 0) and np.all(refined <= 1)
    # maximum principle of (I + Laplacian): T stays within the range of T_hat
    assert refined.min() >= t_hat.min() - 1e-9 and refined.max() <= t_hat.max() + 1e-9
    assert total_variation(refined) < 0.5 * total_variation(t_hat)


def test_lime_keeps_strong_edges_while_smoothing_texture():
    rng = np.random.default_rng(2)
    t_hat = np.where(np.arange(40)[None, :] < 20, 0.05, 0.5) * np.ones((30, 1))
    t_hat = np.clip(t_hat + 0.01 * rng.standard_normal(t_hat.shape), 0, 1)
    refined = refine_illumination(t_hat, alpha=0.15, sigma=2.0, epsilon=1e-3)
    profile = refined.mean(axis=0)
    assert profile[20] - profile[19] > 0.3  # most of the 0.45 step stays between two pixels
    assert np.ptp(profile[:20]) < 0.02 and np.ptp(profile[20:]) < 0.02  # no ramp either side
    assert refined[:, :18].std() < 0.2 * t_hat[:, :18].std()  # noise smoothed


def test_smoothing_system_is_symmetric_and_preserves_constants():
    t_hat = initial_illumination(dark_image(9, 13))
    w_horizontal, w_vertical = strategy3_weights(t_hat)
    system = smoothing_system(w_horizontal, w_vertical, alpha=0.15)
    assert system.shape == (9 * 13, 9 * 13)
    assert abs(system - system.T).max() == 0
    assert np.all(system.diagonal() > 0)
    np.testing.assert_allclose(system @ np.ones(9 * 13), 1.0, rtol=1e-10)
    off_diagonal = abs(system - sparse.diags(system.diagonal())).sum(axis=1).A1
    assert np.all(system.diagonal() > off_diagonal)  # strictly diagonally dominant -> SPD


def test_smoothing_system_matches_difference_operators():
    # Independent construction: A = I + alpha * sum_d D_d^T diag(w_d) D_d with explicit
    # forward-difference matrices built from Kronecker products (row-major pixel order).
    height, width, alpha = 5, 7, 0.3
    rng = np.random.default_rng(0)
    w_horizontal = rng.uniform(0.1, 2, (height, width - 1))
    w_vertical = rng.uniform(0.1, 2, (height - 1, width))

    def difference(n):
        return sparse.diags([-np.ones(n - 1), np.ones(n - 1)], [0, 1], shape=(n - 1, n))

    d_horizontal = sparse.kron(sparse.identity(height), difference(width))
    d_vertical = sparse.kron(difference(height), sparse.identity(width))
    expected = (sparse.identity(height * width)
                + alpha * d_horizontal.T @ sparse.diags(w_horizontal.ravel()) @ d_horizontal
                + alpha * d_vertical.T @ sparse.diags(w_vertical.ravel()) @ d_vertical)
    built = smoothing_system(w_horizontal, w_vertical, alpha)
    np.testing.assert_allclose(built.toarray(), expected.toarray(), atol=1e-12)


def test_constant_illumination_is_a_fixed_point():
    t_hat = np.full((12, 15), 0.3)
    np.testing.assert_allclose(refine_illumination(t_hat), 0.3, atol=1e-10)


def test_strategy3_weights_are_large_on_flat_and_small_on_edges():
    t_hat = np.where(np.arange(20)[None, :] < 10, 0.1, 0.9) * np.ones((8, 1))
    w_horizontal, w_vertical = strategy3_weights(t_hat, sigma=2.0, epsilon=1e-3)
    assert w_horizontal.shape == (8, 19) and w_vertical.shape == (7, 20)
    assert w_horizontal[:, 9].max() < 10  # across the edge
    assert w_horizontal[:, 0].min() > 1e5  # flat: 1 / eps^2


def test_lime_downscaled_solve_for_large_images():
    image = dark_image(60, 80, seed=4)
    method = LIME(max_solve_pixels=600)
    assert method.solve_shape(60, 80) == (21, 28)
    t_hat, refined = method.illumination(image)
    assert refined.shape == (60, 80)
    assert np.all(refined >= 0) and np.all(refined <= 1)
    assert total_variation(refined) < total_variation(t_hat)
    out = method(image)
    assert out.shape == image.shape and out.mean() > image.mean()


@pytest.mark.parametrize("argument", ["alpha", "sigma", "gamma", "epsilon", "floor"])
def test_lime_rejects_bad_parameters(argument):
    with pytest.raises(ValueError, match=argument):
        LIME(**{argument: -1.0})
