"""One table for every comparison method, built by name.

Names::

    identity | gamma | he | clahe | lime          classical (:data:`CLASSICAL`)
    zero_dce | ... | dncnn3                       peers (``mlsm.baselines.peers.PEERS``)
    mlsm | mlsm:<weights or zoo tag>              mlsm's own models (``mlsm.inference``)
    a+b+c                                         a :class:`~mlsm.baselines.pipelines.Pipeline`
                                                  running a, then b, then c

(the grammar: :mod:`mlsm.baselines.spec`; built methods are kept by
:class:`mlsm.baselines.cache.MethodCache`.)

The mlsm paper compares three settings (Sec. I, Figs. 7-9): *enhancement* (a peer enhancer
``E`` alone), *enhancement + deblocking* (``"E+dncnn3"``) and *deblocking + enhancement*
(``"dncnn3+E"``). :func:`standard_comparison` lists all three for every peer enhancer.

``mlsm.baselines.peers`` (torch networks) and ``mlsm.inference`` are imported only when a
name needs them, so building a classical method stays light. A ``+`` inside a weights path
is not supported (``+`` always separates pipeline steps).
"""
from __future__ import annotations

import importlib
from typing import Callable, Mapping

from mlsm.baselines.base import Method
from mlsm.baselines.classical import CLAHE, GammaCorrection, HistogramEqualization, Identity
from mlsm.baselines.lime import LIME
from mlsm.baselines.pipelines import Pipeline
from mlsm.baselines.spec import MLSM_PREFIX, MethodSpec, is_mlsm_spec, join_steps

__all__ = ["CLASSICAL", "UnknownMethodError", "build_method", "is_mlsm_spec", "list_methods",
           "standard_comparison", "peer_enhancers", "peer_deblockers"]

CLASSICAL: dict[str, Callable[[], Method]] = {
    "identity": Identity,
    "gamma": GammaCorrection,
    "he": HistogramEqualization,
    "clahe": CLAHE,
    "lime": LIME,
}

_PEERS_MODULE = "mlsm.baselines.peers"
# mlsm's own models come from the inference layer, above this one: looked up by name at
# first use (the one deliberate upward reference, so that every table lists mlsm beside its peers)
_INFERENCE_MODULE = "mlsm.inference"


class UnknownMethodError(KeyError):
    """A method name that is neither classical, a peer, an mlsm model nor a pipeline of those."""

    def __init__(self, name: str, known: list[str]):
        self.name = name
        self.known = known
        super().__init__(name)

    def __str__(self) -> str:
        return (f"unknown method {self.name!r}; known: {', '.join(self.known)}, "
                f"{MLSM_PREFIX}[:<weights or zoo tag>], and pipelines 'a+b' of these")


def _peers() -> Mapping:
    """``mlsm.baselines.peers.PEERS``, imported on first use."""
    return importlib.import_module(_PEERS_MODULE).PEERS


def peer_enhancers() -> list[str]:
    """Names of the peer methods of kind "enhancer", in table order."""
    return [name for name, spec in _peers().items() if spec.kind == "enhancer"]


def peer_deblockers() -> list[str]:
    """Names of the peer methods of kind "deblocker" (DnCNN-3), in table order."""
    return [name for name, spec in _peers().items() if spec.kind == "deblocker"]


def _single_names() -> list[str]:
    return list(CLASSICAL) + [name for name in _peers() if name not in CLASSICAL]


def _build_single(name: str, peers_dir, device: str) -> Method:
    if name in CLASSICAL:
        return CLASSICAL[name]()
    if is_mlsm_spec(name):
        inference = importlib.import_module(_INFERENCE_MODULE)
        return inference.build_mlsm_method(name, device)
    if name in _peers():
        peers = importlib.import_module(_PEERS_MODULE)
        return peers.build_peer(name, peers_dir=peers_dir, device=device)
    raise UnknownMethodError(name, _single_names())


def build_method(name: str, peers_dir=None, device: str = "cpu") -> Method:
    """Build the method called ``name`` (see the module docstring for the grammar).

    Args:
        name: e.g. ``"lime"``, ``"zero_dce"``, ``"zero_dce+dncnn3"``, ``"mlsm:PATH"``.
        peers_dir: folder with the peers' official weights (passed to ``build_peer``).
        device: torch device for CNN methods; classical methods ignore it.

    Raises:
        UnknownMethodError: a name, or a step of a pipeline, is not known (the message lists
            the known names).
    """
    spec = MethodSpec.parse(name)
    if spec.has_empty_step:
        raise UnknownMethodError(spec.name, _single_names())
    steps = [_build_single(step, peers_dir, device) for step in spec.steps]
    return steps[0] if len(steps) == 1 else Pipeline(steps)


def _two_stage_pipelines() -> tuple[list[str], list[str]]:
    """(enhancement + deblocking, deblocking + enhancement) names for every peer enhancer."""
    enhancers, deblockers = peer_enhancers(), peer_deblockers()
    enhance_then_deblock = [join_steps((e, d)) for d in deblockers for e in enhancers]
    deblock_then_enhance = [join_steps((d, e)) for d in deblockers for e in enhancers]
    return enhance_then_deblock, deblock_then_enhance


def list_methods() -> list[str]:
    """Every registered name: classical, peers, and for each peer enhancer E and deblocker D
    the pipelines ``"E+D"`` and ``"D+E"`` (mlsm models and other pipelines are built on
    demand but not listed)."""
    enhance_then_deblock, deblock_then_enhance = _two_stage_pipelines()
    return _single_names() + enhance_then_deblock + deblock_then_enhance


def standard_comparison() -> list[str]:
    """The default method set of ``mlsm eval``, grouped by the paper's three settings.

    ``identity`` and the classical methods, every peer enhancer alone (*enhancement*), every
    ``"E+dncnn3"`` (*enhancement + deblocking*) and every ``"dncnn3+E"``
    (*deblocking + enhancement*). The deblocker alone is not part of it.
    """
    enhance_then_deblock, deblock_then_enhance = _two_stage_pipelines()
    return list(CLASSICAL) + peer_enhancers() + enhance_then_deblock + deblock_then_enhance
