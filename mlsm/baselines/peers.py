"""The official peer models: one table from a name to architecture, weight files and licence.

Every entry builds a :class:`~mlsm.baselines.base.Method` from the authors' released
weights, read from a folder the user gives (``--peers-dir`` or ``MLSM_PEERS_DIR``); the
project never ships those files. Layout of that folder (as in ``../shared/peers``)::

    zero-dce/Epoch99.pth      zero-dce-pp/Epoch99.pth     sci/medium.pt
    pairlie/PairLIE.pth       iat/best_Epoch_lol_v1.pth   dncnn3/DnCNN3.mat
    uretinex/{init_low,unfolding,L_adjust}.pth
    flol/{flolv2_all_111439,flolv2_UHDLL}.pt      zeroig/{LOL,LSRW-Huawei}.pt

All PyTorch files are read with ``weights_only=True``; URetinex-Net's checkpoints also
pickle an ``argparse.Namespace`` of options, which is allow-listed for that one purpose.
"""
from __future__ import annotations

import argparse
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from mlsm.baselines.base import Method, TorchMethod
from mlsm.baselines.dncnn import LumaDeblocker, load_matconvnet_dncnn
from mlsm.baselines.flol import FLOL, WEIGHTS_KEY as FLOL_WEIGHTS_KEY
from mlsm.baselines.iat import IAT
from mlsm.baselines.pairlie import DEFAULT_EXPONENT, PairLIE
from mlsm.baselines.sci import SCI, inference_state_dict
from mlsm.baselines.uretinex import DEFAULT_RATIO, UnfoldingOptions, URetinexNet
from mlsm.baselines.zero_dce import ZeroDCE, ZeroDCEPlusPlus
from mlsm.baselines.zero_ig import ZeroIG

__all__ = ["PeerSpec", "PEERS", "PEERS_DIR_ENV", "default_peers_dir", "build_peer",
           "load_torch_file", "PeerWeightsError", "build_uretinex"]

PEERS_DIR_ENV = "MLSM_PEERS_DIR"
# Local CNNs: moderate tiles bound memory; global-statistics models run normal photos whole.
_LOCAL_TILE = 1024
_GLOBAL_TILE = 2048
_OVERLAP = 48


class PeerWeightsError(ValueError):
    """An official weight file does not match the architecture it is meant for."""


@dataclass(frozen=True)
class PeerSpec:
    """One peer: what it is, where its weights live, and how to build it."""

    name: str                 # e.g. "zero_dce"
    kind: str                 # "enhancer" or "deblocker"
    paper: str                # short citation
    licence: str
    weight_files: tuple[str, ...]   # relative to the peers dir
    build: Callable[[Path | None, str], Method]   # (peers_dir or None for random init, device)


def default_peers_dir() -> Path | None:
    """The folder named by ``MLSM_PEERS_DIR``, or None when unset or empty."""
    value = os.environ.get(PEERS_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def load_torch_file(path: Path, allow_namespace: bool = False) -> dict[str, Any]:
    """``torch.load(path, map_location="cpu", weights_only=True)``.

    ``allow_namespace`` allow-lists ``argparse.Namespace`` (URetinex-Net's option record).
    """
    if allow_namespace:
        torch.serialization.add_safe_globals([argparse.Namespace])
    return torch.load(path, map_location="cpu", weights_only=True)


def _load_strict(module: nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        lines = str(error).strip().splitlines()
        detail = " ".join(line.strip() for line in lines[:3])
        raise PeerWeightsError(f"{source}: weights do not match {type(module).__name__}: {detail}") from error


def _method(name: str, module: nn.Module, device: str, tile: int = _LOCAL_TILE) -> TorchMethod:
    return TorchMethod(name, module, multiple=1, tile=tile, overlap=_OVERLAP, device=device)


def _build_plain(name: str, factory: Callable[[], nn.Module], weight_file: str, tile: int,
                 peers_dir: Path | None, device: str,
                 adapt: Callable[[dict], dict] | None = None) -> Method:
    module = factory()
    if peers_dir is not None:
        path = peers_dir / weight_file
        state = load_torch_file(path)
        _load_strict(module, adapt(state) if adapt else state, path)
    return _method(name, module, device, tile)


def build_uretinex(peers_dir: Path | None, device: str, ratio: float = DEFAULT_RATIO) -> Method:
    """URetinex-Net from its three official files; ``ratio`` is the illumination gain (3-5)."""
    module = URetinexNet(ratio=ratio)
    if peers_dir is not None:
        init_path = peers_dir / "uretinex/init_low.pth"
        unfold_path = peers_dir / "uretinex/unfolding.pth"
        adjust_path = peers_dir / "uretinex/L_adjust.pth"
        init = load_torch_file(init_path, allow_namespace=True)
        unfolding = load_torch_file(unfold_path, allow_namespace=True)
        adjust = load_torch_file(adjust_path, allow_namespace=True)
        _load_strict(module.decom_low, init["state_dict"]["model_R"], init_path)
        _load_strict(module.model_R, unfolding["state_dict"]["model_R"], unfold_path)
        _load_strict(module.model_L, unfolding["state_dict"]["model_L"], unfold_path)
        _load_strict(module.model_A, adjust["state_dict"]["model_A"], adjust_path)
        opts = unfolding.get("opts")
        if opts is not None:
            module.options = UnfoldingOptions(rounds=int(opts.round), gamma=float(opts.gamma),
                                              lamda=float(opts.lamda), p_offset=float(opts.Roffset),
                                              q_offset=float(opts.Loffset))
    return _method("uretinex", module, device, _GLOBAL_TILE)


def _build_dncnn3(peers_dir: Path | None, device: str) -> Method:
    module = LumaDeblocker()
    if peers_dir is not None:
        path = peers_dir / "dncnn3/DnCNN3.mat"
        _load_strict(module.dncnn, load_matconvnet_dncnn(path), path)
    return _method("dncnn3", module, device, _LOCAL_TILE)


def _flol_state_dict(checkpoint: dict) -> dict:
    """The released FLOL+ files hold ``{"params": state_dict}``."""
    if FLOL_WEIGHTS_KEY not in checkpoint:
        raise PeerWeightsError(f"not a FLOL+ release file: no {FLOL_WEIGHTS_KEY!r} key "
                               f"(keys: {', '.join(sorted(map(str, checkpoint))[:5])})")
    return checkpoint[FLOL_WEIGHTS_KEY]


# Zero-IG's files store its one shared enhancer block under enhance.conv and three copies.
_ZERO_IG_SHARED = "enhance.conv."
_ZERO_IG_COPIES = tuple(f"enhance.blocks.{i}." for i in range(3))


def _zero_ig_state_dict(checkpoint: dict) -> dict:
    """Check that the stored copies of Zero-IG's shared block equal ``enhance.conv``."""
    for key, value in checkpoint.items():
        if key.startswith(_ZERO_IG_SHARED):
            for prefix in _ZERO_IG_COPIES:
                copy = checkpoint.get(prefix + key[len(_ZERO_IG_SHARED):])
                if copy is not None and not torch.equal(copy, value):
                    raise PeerWeightsError(f"Zero-IG file: {prefix}{key[len(_ZERO_IG_SHARED):]} differs "
                                           f"from {key} (the release shares one block)")
    return checkpoint


_ZERO_DCE_LICENCE = "CC BY-NC 4.0 (academic use)"

PEERS: dict[str, PeerSpec] = {
    "zero_dce": PeerSpec(
        "zero_dce", "enhancer", "Guo et al., Zero-DCE, CVPR 2020", _ZERO_DCE_LICENCE,
        ("zero-dce/Epoch99.pth",),
        functools.partial(_build_plain, "zero_dce", ZeroDCE, "zero-dce/Epoch99.pth", _LOCAL_TILE)),
    "zero_dce_pp": PeerSpec(
        "zero_dce_pp", "enhancer", "Li et al., Zero-DCE++, TPAMI 2021 (scale factor 1)",
        _ZERO_DCE_LICENCE, ("zero-dce-pp/Epoch99.pth",),
        functools.partial(_build_plain, "zero_dce_pp", functools.partial(ZeroDCEPlusPlus, 1),
                          "zero-dce-pp/Epoch99.pth", _LOCAL_TILE)),
    "zero_dce_pp_s12": PeerSpec(
        "zero_dce_pp_s12", "enhancer", "Li et al., Zero-DCE++, TPAMI 2021 (scale factor 12)",
        _ZERO_DCE_LICENCE, ("zero-dce-pp/Epoch99.pth",),
        functools.partial(_build_plain, "zero_dce_pp_s12", functools.partial(ZeroDCEPlusPlus, 12),
                          "zero-dce-pp/Epoch99.pth", _GLOBAL_TILE)),
    "sci": PeerSpec(
        "sci", "enhancer", "Ma et al., SCI, CVPR 2022 (medium)", "MIT",
        ("sci/medium.pt",),
        functools.partial(_build_plain, "sci", SCI, "sci/medium.pt", _LOCAL_TILE,
                          adapt=inference_state_dict)),
    "pairlie": PeerSpec(
        "pairlie", "enhancer", "Fu et al., PairLIE, CVPR 2023", "none stated (research use)",
        ("pairlie/PairLIE.pth",),
        functools.partial(_build_plain, "pairlie", functools.partial(PairLIE, DEFAULT_EXPONENT),
                          "pairlie/PairLIE.pth", _LOCAL_TILE)),
    "iat": PeerSpec(
        "iat", "enhancer", "Cui et al., IAT, BMVC 2022 (LOL-v1 weights)", "Apache-2.0",
        ("iat/best_Epoch_lol_v1.pth",),
        functools.partial(_build_plain, "iat", IAT, "iat/best_Epoch_lol_v1.pth", _GLOBAL_TILE)),
    "uretinex": PeerSpec(
        "uretinex", "enhancer", "Wu et al., URetinex-Net, CVPR 2022 (ratio 5)", "MIT",
        ("uretinex/init_low.pth", "uretinex/unfolding.pth", "uretinex/L_adjust.pth"),
        functools.partial(build_uretinex, ratio=DEFAULT_RATIO)),
    "flol": PeerSpec(
        "flol", "enhancer", "Benito et al., FLOL+, arXiv 2501.09718, 2025 (LOLv2-real weights)", "MIT",
        ("flol/flolv2_all_111439.pt",),
        functools.partial(_build_plain, "flol", FLOL, "flol/flolv2_all_111439.pt", _GLOBAL_TILE,
                          adapt=_flol_state_dict)),
    "flol_uhd": PeerSpec(
        "flol_uhd", "enhancer", "Benito et al., FLOL+, arXiv 2501.09718, 2025 (UHD-LL weights)", "MIT",
        ("flol/flolv2_UHDLL.pt",),
        functools.partial(_build_plain, "flol_uhd", FLOL, "flol/flolv2_UHDLL.pt", _GLOBAL_TILE,
                          adapt=_flol_state_dict)),
    "zero_ig": PeerSpec(
        "zero_ig", "enhancer", "Shi et al., Zero-IG, CVPR 2024 (LOL weights)", "none stated (research use)",
        ("zeroig/LOL.pt",),
        functools.partial(_build_plain, "zero_ig", ZeroIG, "zeroig/LOL.pt", _LOCAL_TILE,
                          adapt=_zero_ig_state_dict)),
    "zero_ig_lsrw": PeerSpec(
        "zero_ig_lsrw", "enhancer", "Shi et al., Zero-IG, CVPR 2024 (LSRW-Huawei weights)",
        "none stated (research use)", ("zeroig/LSRW-Huawei.pt",),
        functools.partial(_build_plain, "zero_ig_lsrw", ZeroIG, "zeroig/LSRW-Huawei.pt", _LOCAL_TILE,
                          adapt=_zero_ig_state_dict)),
    "dncnn3": PeerSpec(
        "dncnn3", "deblocker", "Zhang et al., DnCNN-3, IEEE TIP 2017 (on Y)",
        "none stated (research use)", ("dncnn3/DnCNN3.mat",), _build_dncnn3),
}


def build_peer(name: str, peers_dir: Path | str | None = None, device: str = "cpu",
               random_init: bool = False) -> Method:
    """Build peer ``name`` with its official weights from ``peers_dir``.

    Args:
        name: a key of :data:`PEERS`.
        peers_dir: folder holding the official files; None uses ``MLSM_PEERS_DIR``.
        device: torch device string.
        random_init: build the architecture with random weights (tests only).

    Raises:
        KeyError: unknown ``name``.
        FileNotFoundError: no peers folder given, or one of the weight files is missing.
        PeerWeightsError: a weight file does not fit the architecture.
    """
    if name not in PEERS:
        raise KeyError(f"unknown peer {name!r}; known: {', '.join(sorted(PEERS))}")
    spec = PEERS[name]
    if random_init:
        return spec.build(None, device)
    folder = Path(peers_dir).expanduser() if peers_dir is not None else default_peers_dir()
    if folder is None:
        raise FileNotFoundError(
            f"peer {name!r} needs its official weights {', '.join(spec.weight_files)}: pass "
            f"--peers-dir DIR (peers_dir=...) or set {PEERS_DIR_ENV}=DIR")
    for relative in spec.weight_files:
        if not (folder / relative).is_file():
            raise FileNotFoundError(
                f"peer {name!r}: weight file {folder / relative} not found; point --peers-dir "
                f"(or {PEERS_DIR_ENV}) at the folder that holds {relative}")
    return spec.build(folder, device)
