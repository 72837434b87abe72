"""The training stages of the paper (Section III-C/D, Algorithms 1-2) and the direct ablation.

* :class:`VAEStage` (stage 1, eq. 12-13): trains VAE_C on compressed dark images c and VAE_N
  on normal-light images n: L1 + perceptual + LSGAN + Σ_i KL(l^i || N(0, 1)) for each.
* :class:`MappingStage` (stage 2, eq. 18): freezes both VAEs and trains the mappers M_i:
  Σ_i ||l̃_n^i − l_n^i||_1 + perceptual(ñ, n) + LSGAN(ñ), plus an image-domain L1 term
  ||ñ − n||_1 through the frozen D_N (our addition, weight ``image_l1``; 0 gives eq. 18).
  With ``tune_decoder=True`` D_N's sub-decoders are trained too (E_C and E_N stay frozen):
  our extension beyond the paper, which removes the VAE_N reconstruction ceiling.
* :class:`DirectStage`: the no-mapping ablation (IV-F), one encoder-decoder trained c -> n
  with L1 + perceptual + LSGAN.

Each stage follows :class:`mlsm.train.loop.TrainStage`: ``trainable_modules`` (each one an
attribute of the stage, called through that attribute so DDP can average gradients),
``training_step`` returning named loss parts with key ``loss``, an optional
``discriminator_step`` for the LSGAN terms, ``validate`` (PSNR on held-out pairs) and
``sample_images``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from mlsm.losses import (PerceptualLoss, frequency_loss, gradient_loss, kl_divergence, l1_loss,
                         lsgan_discriminator_loss, lsgan_generator_loss, match_brightness, ms_ssim_loss)
from mlsm.models.discriminator import PatchDiscriminator
from mlsm.models.enhancer import DirectEnhancer, Enhancer
from mlsm.inference.options import CONTEXT_OVERLAP
from mlsm.tiling import run_tiled

__all__ = ["LossConfig", "VAEStage", "MappingStage", "DirectStage", "psnr_batch"]


@dataclass
class LossConfig:
    """Weights of the loss terms (the paper sums them unweighted; see each stage).

    Attributes:
        l1: image reconstruction L1 (eq. 12-13 first term; direct ablation).
        kl: weight of Σ_i KL(l^i || N(0, 1)) (eq. 12-13). Small: a strong prior blurs.
        latent: weight of Σ_i ||l̃_n^i − l_n^i||_1 (eq. 18 first term).
        image_l1: ||ñ − n||_1 through the frozen D_N in stage 2 (not in eq. 18).
        perceptual: weight of the perceptual term; ``perceptual_backbone`` picks the network
            ("none", "efficientnet_lite0" offline, "vgg19" with a weights file).
        gan: weight of the LSGAN generator term; 0 disables the discriminator.
        gradient, frequency, ms_ssim: weights of the texture terms of :mod:`mlsm.losses` that
            need no pretrained network (not in the paper): :func:`~mlsm.losses.gradient_loss`,
            :func:`~mlsm.losses.frequency_loss` (focal exponent ``frequency_focal``, 0 = plain
            L1 of amplitudes) and :func:`~mlsm.losses.ms_ssim_loss`; on the same images as the
            perceptual term (VAE_N reconstructions in stage 1, ñ in stage 2, the direct output).
        brightness_invariant: stage 2 only (ours): the image terms compare ñ scaled in linear
            light to the target's mean (:func:`~mlsm.losses.match_brightness`), plus
            ``brightness_anchor * mean(log g)^2`` for the gain g that took; the exposure head
            then sets the global brightness. Why: a 128x128 crop does not show the exposure
            (LOL's reference brightness is uncorrelated with the dark photo's, r = 0.08), and a
            plain L1 under that uncertainty flattens contrast and lifts the black level:
            mlsm_small.real_v2, fine-tuned so on LOL + synthetic pairs, scores 19.61 dB on LOL
            validation with the brightness matched, the model it started from 21.52
            (``scripts/lol_brightness_probe.py --context 0``).
        brightness_anchor: weight of the log-gain penalty (keeps the network's own brightness
            near the targets' on average, without a per-pixel hedge).
    """

    l1: float = 1.0
    kl: float = 1e-4
    latent: float = 1.0
    image_l1: float = 1.0
    perceptual: float = 0.0
    perceptual_backbone: str = "none"
    perceptual_weights: str | None = None
    gan: float = 0.0
    discriminator_width: int = 32
    gradient: float = 0.0
    frequency: float = 0.0
    frequency_focal: float = 0.0
    ms_ssim: float = 0.0
    brightness_invariant: bool = False
    brightness_anchor: float = 0.01

    def __post_init__(self) -> None:
        for name in ("l1", "kl", "latent", "image_l1", "perceptual", "gan", "gradient", "frequency",
                     "frequency_focal", "ms_ssim", "brightness_anchor"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"loss.{name} must be a finite number >= 0, got {value!r}")

    @property
    def texture(self) -> bool:
        """Whether any texture term is on."""
        return self.gradient > 0 or self.frequency > 0 or self.ms_ssim > 0


def psnr_batch(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Mean PSNR (dB, data range 1) over a batch of images clamped to [0, 1]."""
    mse = (prediction.clamp(0, 1) - target).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(1.0 / mse)).mean())


class _AdversarialMixin:
    """Optional perceptual network and PatchGAN discriminator shared by the stages."""

    def _setup_losses(self, losses: LossConfig):
        self.losses = losses
        self.perceptual = None
        if losses.perceptual > 0 and losses.perceptual_backbone != "none":
            self.perceptual = PerceptualLoss(losses.perceptual_backbone, weights_path=losses.perceptual_weights)
        self.discriminator = PatchDiscriminator(width=losses.discriminator_width) if losses.gan > 0 else None
        self._last_fake: torch.Tensor | None = None
        self._last_real: torch.Tensor | None = None

    def _image_terms(self, fake: torch.Tensor, real: torch.Tensor, prefix: str) -> dict[str, torch.Tensor]:
        terms = {}
        losses = self.losses
        if losses.gradient > 0:
            terms[f"{prefix}gradient"] = losses.gradient * gradient_loss(fake, real)
        if losses.frequency > 0:
            terms[f"{prefix}frequency"] = losses.frequency * frequency_loss(fake, real, losses.frequency_focal)
        if losses.ms_ssim > 0:
            terms[f"{prefix}ms_ssim"] = losses.ms_ssim * ms_ssim_loss(fake, real)
        if self.perceptual is not None:
            terms[f"{prefix}perceptual"] = self.losses.perceptual * self.perceptual(fake, real)
        if self.discriminator is not None:
            self.discriminator.requires_grad_(False)
            terms[f"{prefix}gan"] = self.losses.gan * lsgan_generator_loss(self.discriminator(fake))
            self.discriminator.requires_grad_(True)
            self._last_fake, self._last_real = fake.detach(), real.detach()
        return terms

    def setup(self, device) -> None:
        """Move the frozen perceptual network to the training device (the loop moves the rest)."""
        if self.perceptual is not None:
            self.perceptual.to(device)

    def discriminator_modules(self) -> dict[str, nn.Module]:
        return {"discriminator": self.discriminator} if self.discriminator is not None else {}

    def discriminator_step(self, batch, step: int) -> dict[str, torch.Tensor] | None:
        """LSGAN discriminator update on the last generator outputs (Mao et al. 2017)."""
        if self.discriminator is None or self._last_fake is None:
            return None
        loss = lsgan_discriminator_loss(self.discriminator(self._last_real), self.discriminator(self._last_fake))
        return {"loss": loss, "d_loss": loss.detach()}


class VAEStage(_AdversarialMixin):
    """Stage 1 (Algorithm 1, eq. 12-13): both multi-level VAEs reconstruct their own domain."""

    def __init__(self, model: Enhancer, losses: LossConfig = LossConfig(), validation: list[dict] | None = None):
        self.model = model
        self.vae_c, self.vae_n = model.vae_c, model.vae_n
        self._setup_losses(losses)
        self.validation = validation or []

    def trainable_modules(self) -> dict[str, nn.Module]:
        return {"vae_c": self.vae_c, "vae_n": self.vae_n}

    def _reconstruction(self, vae: nn.Module, image: torch.Tensor, prefix: str) -> dict[str, torch.Tensor]:
        out = vae(image)
        terms = {f"{prefix}l1": self.losses.l1 * l1_loss(out["image"], image),
                 f"{prefix}kl": self.losses.kl * sum(kl_divergence(m, v) for m, v in zip(out["means"], out["logvars"]))}
        if prefix == "n_":  # realism terms on the normal-light reconstructions
            terms.update(self._image_terms(out["image"], image, prefix))
        return terms

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        terms = {**self._reconstruction(self.vae_c, batch["low"], "c_"),
                 **self._reconstruction(self.vae_n, batch["high"], "n_")}
        return {"loss": sum(terms.values()), **{k: v.detach() for k, v in terms.items()}}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        if not self.validation:
            return {}
        vae_c, vae_n = self.model.vae_c.eval(), self.model.vae_n.eval()
        c_psnr = [psnr_batch(vae_c(item["low"][None])["image"], item["low"][None]) for item in self.validation]
        n_psnr = [psnr_batch(vae_n(item["high"][None])["image"], item["high"][None]) for item in self.validation]
        vae_c.train(), vae_n.train()
        return {"val_c_recon_psnr": sum(c_psnr) / len(c_psnr), "val_n_recon_psnr": sum(n_psnr) / len(n_psnr)}


class _EnhancementValidation:
    """``validate``/``sample_images`` for stages whose ``model`` maps c to n.

    ``context`` (set by :func:`mlsm.train.cli.train` to the training crop): validation images
    larger than it run in windows of that side, as inference does
    (:class:`~mlsm.inference.options.InferenceOptions` ``context``); whole, when 0. Whole
    256 px crops scored a 64 px-trained fine-tune (``configs/mlsm_small_v4.yaml``) as getting
    worse while its windowed output got better.
    """

    context: int = 0

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        return _validate_enhancement(self.model, self.validation, self.context)

    @torch.no_grad()
    def sample_images(self) -> dict[str, torch.Tensor]:
        return _samples(self.model, self.validation)


class MappingStage(_EnhancementValidation, _AdversarialMixin):
    """Stage 2 (Algorithm 2, eq. 18): train {M_i} with E_C, E_N and D_N frozen.

    ``tune_decoder=True`` also trains D_N (the sub-decoders of VAE_N) on the image terms;
    ``tune_encoder=True`` also trains E_C (the sub-encoders of VAE_C), so that with both the
    whole inference chain D_N o {M_i} o E_C is fine-tuned end to end (our extension).
    """

    def __init__(self, model: Enhancer, losses: LossConfig = LossConfig(), validation: list[dict] | None = None,
                 tune_decoder: bool = False, tune_encoder: bool = False):
        self.model = model
        for vae in (model.vae_c, model.vae_n):
            vae.eval()
            vae.requires_grad_(False)
        self.mapping = model.mapping
        self.decoder = None
        if tune_decoder:
            if losses.image_l1 <= 0:
                raise ValueError("tune_decoder needs loss.image_l1 > 0 (the decoder learns from image terms)")
            self.decoder = model.vae_n.decoders
            self.decoder.requires_grad_(True)
        self.encoder = None
        if tune_encoder:
            self.encoder = model.vae_c.encoders
            self.encoder.requires_grad_(True)
        self._setup_losses(losses)
        self.validation = validation or []

    def setup(self, device) -> None:
        self.model.vae_c.to(device), self.model.vae_n.to(device)
        super().setup(device)

    def trainable_modules(self) -> dict[str, nn.Module]:
        modules = {"mapping": self.mapping}
        if self.decoder is not None:
            modules["decoder"] = self.decoder
        if self.encoder is not None:
            modules["encoder"] = self.encoder
        return modules

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        self.model.vae_c.eval(), self.model.vae_n.eval()   # frozen: posterior means, no sampling
        with torch.set_grad_enabled(self.encoder is not None):
            latents_c = self.model.vae_c.encode(batch["low"])["latents"]
        with torch.no_grad():
            latents_n = self.model.vae_n.encode(batch["high"])["latents"]
        mapped = self.mapping(latents_c)
        first = len(mapped) - self.model.mapped_levels
        terms = {"latent_l1": self.losses.latent * sum(
            l1_loss(m, n) for m, n in zip(mapped[first:], latents_n[first:]))}
        needs_image = self.losses.image_l1 > 0 or self.losses.texture or self.perceptual is not None \
            or self.discriminator is not None
        if needs_image:
            enhanced = self.model.vae_n.decode(mapped)
            if self.losses.brightness_invariant:
                enhanced, log_gain = match_brightness(enhanced, batch["high"])
                terms["brightness_anchor"] = self.losses.brightness_anchor * log_gain.pow(2).mean()
            if self.losses.image_l1 > 0:
                terms["image_l1"] = self.losses.image_l1 * l1_loss(enhanced, batch["high"])
            terms.update(self._image_terms(enhanced, batch["high"], ""))
        return {"loss": sum(terms.values()), **{k: v.detach() for k, v in terms.items()}}


class DirectStage(_EnhancementValidation, _AdversarialMixin):
    """No-mapping ablation (IV-F): one encoder-decoder trained from c to n directly."""

    def __init__(self, model: DirectEnhancer, losses: LossConfig = LossConfig(), validation: list[dict] | None = None):
        self.model = model
        self.network = model.network
        self._setup_losses(losses)
        self.validation = validation or []

    def trainable_modules(self) -> dict[str, nn.Module]:
        return {"network": self.network}

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        enhanced = self.network(batch["low"])["image"]   # crops are multiples of size_multiple
        terms = {"l1": self.losses.l1 * l1_loss(enhanced, batch["high"]),
                 **self._image_terms(enhanced, batch["high"], "")}
        return {"loss": sum(terms.values()), **{k: v.detach() for k, v in terms.items()}}


def _validate_enhancement(model: nn.Module, validation: list[dict], context: int = 0) -> dict[str, float]:
    """PSNR of the enhanced validation images and of the untouched input (identity), per set.

    Items of the synthetic set (``"set"`` missing or ``"synthetic"``) give ``val_psnr``,
    ``val_matched_psnr`` (the output's brightness matched to the target's first,
    :func:`~mlsm.losses.match_brightness`: what the network gives once the exposure head has
    set the brightness right) and ``val_identity_psnr``; those of any other set ``S`` give
    ``val_S_psnr``, ``val_S_matched_psnr`` and ``val_S_identity_psnr`` (``val_real_psnr``
    for the real pairs).
    """
    if not validation:
        return {}
    was_training = model.training
    model.eval()
    groups: dict[str, tuple[list[float], list[float]]] = {}
    for item in validation:
        name = item.get("set", "synthetic")
        enhanced, matched, identity = groups.setdefault(name, ([], [], []))
        low, high = item["low"][None], item["high"][None]
        if context and max(low.shape[-2:]) > context:
            output = run_tiled(lambda tile: model(tile)["image"], low, tile=context, overlap=context // CONTEXT_OVERLAP,
                               multiple=model.size_multiple, batch_pixels=1 << 20).clamp(0, 1)
        else:
            output = model(low)["image"].clamp(0, 1)
        enhanced.append(psnr_batch(output, high))
        matched.append(psnr_batch(match_brightness(output, high)[0], high))
        identity.append(psnr_batch(low, high))
    model.train(was_training)
    if isinstance(model, Enhancer):  # frozen VAEs stay in eval mode
        model.vae_c.eval(), model.vae_n.eval()
    values = {}
    for name, (enhanced, matched, identity) in groups.items():
        prefix = "val" if name == "synthetic" else f"val_{name}"
        values[f"{prefix}_psnr"] = sum(enhanced) / len(enhanced)
        values[f"{prefix}_matched_psnr"] = sum(matched) / len(matched)
        values[f"{prefix}_identity_psnr"] = sum(identity) / len(identity)
    return values


def _samples(model: nn.Module, validation: list[dict], count: int = 4) -> dict[str, torch.Tensor]:
    if not validation:
        return {}
    items = validation[:count]
    was_training = model.training
    model.eval()
    size = min(min(item["low"].shape[-2:]) for item in items)
    low = torch.stack([item["low"][:, :size, :size] for item in items])
    high = torch.stack([item["high"][:, :size, :size] for item in items])
    out = model(low)["image"].clamp(0, 1)
    model.train(was_training)
    if isinstance(model, Enhancer):
        model.vae_c.eval(), model.vae_n.eval()
    return {"low_enhanced_high": torch.cat([low, out, high], dim=-1)}
