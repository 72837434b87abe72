"""Peer enhancers, the DnCNN-3 deblocker, classical baselines and pipelines.

Every method follows :class:`mlsm.baselines.base.Method`: ``method(image) -> image`` on
float32 RGB arrays (H, W, 3) in [0, 1]. Build one by name with
:func:`mlsm.baselines.registry.build_method`.
"""
