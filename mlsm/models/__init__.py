"""Networks of mlsm: the multi-level VAE, the latent mappers and the whole enhancer."""
from mlsm.models.configs import MapperConfig, ModelConfig, VAEConfig, preset
from mlsm.models.enhancer import DirectEnhancer, Enhancer
from mlsm.models.mapper import LatentMapper
from mlsm.models.vae import MultiLevelVAE

__all__ = ["VAEConfig", "MapperConfig", "ModelConfig", "preset", "MultiLevelVAE", "LatentMapper",
           "Enhancer", "DirectEnhancer"]
