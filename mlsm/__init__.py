"""mlsm: Multiple Latent Space Mapping for compressed dark image enhancement.

Zeng et al., "Multiple Latent Space Mapping for Compressed Dark Image Enhancement".
The public API is kept small: see :func:`load_model` and :func:`list_models`.
"""
__version__ = "0.1.0"
