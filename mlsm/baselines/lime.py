r"""LIME: low-light enhancement by illumination map estimation (sped-up solver).

Guo, Li & Ling, "LIME: Low-Light Image Enhancement via Illumination Map Estimation",
IEEE TIP 26(2), 2017 (reference [1] of the mlsm paper). Retinex model ``L = R * T``::

    L (H, W, 3) --max over c--> T_hat --structure-aware smoothing--> T --T ** gamma-->
    R = L / max(T ** gamma, floor), clipped to [0, 1]

1. Initial illumination, LIME eq. (2): :math:`\hat T(x) = \max_{c \in \{R,G,B\}} L^c(x)`.
2. Refinement. LIME's objective :math:`\min_T \|\hat T - T\|_F^2 + \alpha \|W \circ \nabla T\|_1`
   is approximated, as in the paper's sped-up solver, by

   .. math::
       \min_T \|T - \hat T\|_2^2 + \alpha \sum_x \sum_{d \in \{h, v\}}
       \frac{W_d(x) \, (\nabla_d T(x))^2}{|\nabla_d \hat T(x)| + \epsilon},

   whose minimiser solves one sparse, symmetric positive definite linear system

   .. math::
       \Big(I + \alpha \sum_d D_d^\top \operatorname{Diag}(\tilde w_d) D_d\Big) t = \hat t,
       \qquad \tilde w_d = \frac{W_d}{|\nabla_d \hat T| + \epsilon},

   with :math:`D_d` forward differences and weights from LIME's strategy III

   .. math::
       W_d(x) = \frac{\sum_{y \in \Omega(x)} G_\sigma(x, y)}
                     {\big|\sum_{y \in \Omega(x)} G_\sigma(x, y) \nabla_d \hat T(y)\big| + \epsilon}.

   Differences are taken between neighbouring pixels only (no wrap-around, Neumann
   boundary): the system matrix is I plus a weighted graph Laplacian, so its rows sum to 1
   and a constant :math:`\hat T` is its own solution. It is assembled with
   ``scipy.sparse.diags`` and solved with ``scipy.sparse.linalg.spsolve``.
3. Enhancement: :math:`R = L / \max(T^\gamma, \text{floor})`, clipped to [0, 1].

Large images: the solve runs on at most ``max_solve_pixels`` unknowns (512 x 512 by default,
about 1 s). Above that, :math:`\hat T` is area-downscaled to that budget, refined there, and
the refined T is bilinearly upsampled back and clipped to [0, 1]; the
division in step 3 always uses the full-resolution L. The optional BM3D denoising of LIME's
Sec. IV is not implemented (the comparison runs LIME without denoising).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sparse
from scipy.ndimage import gaussian_filter
from scipy.sparse.linalg import spsolve
from skimage.transform import resize

from mlsm.baselines.classical import validate_image

__all__ = ["LIME", "initial_illumination", "strategy3_weights", "smoothing_system",
           "refine_illumination"]


def initial_illumination(image: np.ndarray) -> np.ndarray:
    """LIME eq. (2): T_hat(x) = max_c L^c(x); (H, W, 3) -> (H, W) float64."""
    return image.max(axis=2).astype(np.float64)


def _forward_differences(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal (H, W-1) and vertical (H-1, W) forward differences between neighbours."""
    return np.diff(t, axis=1), np.diff(t, axis=0)


def strategy3_weights(t_hat: np.ndarray, sigma: float = 2.0, epsilon: float = 1e-3
                      ) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-edge weights :math:`\tilde w_d = W_d / (|\nabla_d \hat T| + \epsilon)` (strategy III).

    :math:`G_\sigma` is a normalised Gaussian of standard deviation ``sigma`` over a window of
    radius ``ceil(2 sigma)`` (so :math:`\sum_y G_\sigma = 1`); the signed gradient is smoothed
    first and its magnitude taken after, so textures whose gradients change sign inside the
    window get large weights (smoothed away) while coherent edges get small ones (kept).

    Returns:
        ``(w_horizontal, w_vertical)`` of shapes (H, W-1) and (H-1, W): the weight of the edge
        between pixel (i, j) and (i, j+1), resp. (i+1, j).
    """
    weights = []
    for gradient in _forward_differences(t_hat):
        if gradient.size == 0:
            weights.append(gradient)
            continue
        smoothed = gaussian_filter(gradient, sigma=sigma, mode="nearest", truncate=2.0)
        structure = 1.0 / (np.abs(smoothed) + epsilon)
        weights.append(structure / (np.abs(gradient) + epsilon))
    return weights[0], weights[1]


def smoothing_system(w_horizontal: np.ndarray, w_vertical: np.ndarray, alpha: float
                     ) -> sparse.csc_matrix:
    r"""Assemble :math:`A = I + \alpha \sum_d D_d^\top \operatorname{Diag}(\tilde w_d) D_d`.

    Pixels are numbered row-major (``index = i * W + j``). Each edge (p, q) of weight a adds
    ``alpha * a`` to A[p, p] and A[q, q] and subtracts it from A[p, q] and A[q, p], so A is
    symmetric, strictly diagonally dominant with a positive diagonal (hence positive
    definite) and ``A @ ones == ones``.

    Args:
        w_horizontal: (H, W-1) weights of the edges (i, j)-(i, j+1).
        w_vertical: (H-1, W) weights of the edges (i, j)-(i+1, j).
        alpha: smoothing strength >= 0.

    Returns:
        (H*W, H*W) sparse CSC matrix.
    """
    height = w_horizontal.shape[0]
    width = w_vertical.shape[1]
    if w_horizontal.shape != (height, width - 1) or w_vertical.shape != (height - 1, width):
        raise ValueError(f"w_horizontal {w_horizontal.shape} and w_vertical {w_vertical.shape} "
                         "do not come from one (H, W) image")
    # Edge weights laid out on the full (H, W) grid: east[p] links p and p+1, south[p] links
    # p and p+W; the last column / row has no such neighbour and gets weight 0.
    east = np.zeros((height, width))
    east[:, :-1] = alpha * w_horizontal
    south = np.zeros((height, width))
    south[:-1, :] = alpha * w_vertical
    east, south = east.ravel(), south.ravel()
    diagonal = 1.0 + east + south
    diagonal[1:] += east[:-1]
    diagonal[width:] += south[:-width]
    size = height * width
    offsets, bands = [0], [diagonal]
    if width > 1:
        offsets += [1, -1]
        bands += [-east[:-1], -east[:-1]]
    if height > 1:
        offsets += [width, -width]
        bands += [-south[:-width], -south[:-width]]
    return sparse.diags(bands, offsets, shape=(size, size), format="csc")


def refine_illumination(t_hat: np.ndarray, alpha: float = 0.15, sigma: float = 2.0,
                        epsilon: float = 1e-3) -> np.ndarray:
    """Solve the sped-up LIME problem for T given T_hat (H, W) at the given resolution."""
    height, width = t_hat.shape
    if height * width == 1 or alpha == 0:
        return t_hat.astype(np.float64, copy=True)
    w_horizontal, w_vertical = strategy3_weights(t_hat, sigma=sigma, epsilon=epsilon)
    system = smoothing_system(w_horizontal, w_vertical, alpha)
    solution = spsolve(system, t_hat.ravel().astype(np.float64), permc_spec="MMD_AT_PLUS_A")
    return np.asarray(solution).reshape(height, width)


class LIME:
    """LIME enhancement (sped-up solver, weighting strategy III, no denoising).

    Args:
        alpha: smoothing strength of the illumination refinement (0.15).
        sigma: standard deviation of the Gaussian in strategy III, in pixels (2).
        epsilon: small constant in the weights (1e-3).
        gamma: exponent applied to the refined illumination, T ** gamma (0.8).
        floor: lower bound on T ** gamma in the division (1e-3).
        max_solve_pixels: largest number of unknowns solved at once; bigger images are
            refined at a downscaled resolution and T is upsampled (see the module docstring).
    """

    name = "lime"

    def __init__(self, alpha: float = 0.15, sigma: float = 2.0, epsilon: float = 1e-3,
                 gamma: float = 0.8, floor: float = 1e-3, max_solve_pixels: int = 512 * 512):
        for argument, value in (("alpha", alpha), ("sigma", sigma), ("gamma", gamma)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{argument}: expected a finite value >= 0, got {value}")
        for argument, value in (("epsilon", epsilon), ("floor", floor)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{argument}: expected a finite value > 0, got {value}")
        if max_solve_pixels < 1:
            raise ValueError(f"max_solve_pixels: expected >= 1, got {max_solve_pixels}")
        self.alpha = alpha
        self.sigma = sigma
        self.epsilon = epsilon
        self.gamma = gamma
        self.floor = floor
        self.max_solve_pixels = max_solve_pixels

    def solve_shape(self, height: int, width: int) -> tuple[int, int]:
        """Resolution at which the illumination is refined for an (height, width) image."""
        if height * width <= self.max_solve_pixels:
            return height, width
        scale = math.sqrt(self.max_solve_pixels / (height * width))
        return max(1, int(height * scale)), max(1, int(width * scale))

    def illumination(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(T_hat, T)``, both (H, W) float64 in [0, 1]: initial and refined maps."""
        image = validate_image(image)
        t_hat = initial_illumination(image)
        height, width = t_hat.shape
        solve_height, solve_width = self.solve_shape(height, width)
        if (solve_height, solve_width) == (height, width):
            refined = refine_illumination(t_hat, self.alpha, self.sigma, self.epsilon)
        else:
            small = resize(t_hat, (solve_height, solve_width), order=1, anti_aliasing=True)
            refined = refine_illumination(small, self.alpha, self.sigma, self.epsilon)
            refined = resize(refined, (height, width), order=1, anti_aliasing=False)
        return t_hat, np.clip(refined, 0.0, 1.0)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = validate_image(image)
        _, refined = self.illumination(image)
        illumination = np.maximum(refined ** self.gamma, self.floor)
        enhanced = image / illumination[..., None]
        return np.clip(enhanced, 0.0, 1.0).astype(np.float32)
