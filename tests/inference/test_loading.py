"""load_model / build_mlsm_method and the public mlsm.load_model on top of them."""
from __future__ import annotations

import pytest

import mlsm
from mlsm.inference import EnhancementModel, InferenceOptions, build_mlsm_method, load_model
from mlsm.models.zoo import DEFAULT_MODEL, ZOO


def test_options_record_or_fields(tiny_weights):
    options = InferenceOptions(tile=256, overlap=32, calibrate_exposure=False, brightness=2.0)
    by_record = load_model(tiny_weights, options=options)
    by_fields = mlsm.load_model(tiny_weights, tile=256, overlap=32, calibrate_exposure=False, brightness=2.0)
    assert isinstance(by_record, EnhancementModel)
    assert by_record.options == by_fields.options == options
    with pytest.raises(TypeError, match="tiles"):
        mlsm.load_model(tiny_weights, tiles=256)


def test_build_mlsm_method_names_the_method(tiny_weights):
    method = build_mlsm_method(f"mlsm:{tiny_weights}")
    assert method.name == f"mlsm:{tiny_weights}" and isinstance(method, EnhancementModel)


def test_default_model_loads():
    model = mlsm.load_model()
    assert model.metadata["card"]["paper"].startswith("Zeng et al.")
    assert model.metadata["arch"] == ZOO[DEFAULT_MODEL].arch
    assert model.exposure_head is not None  # the shipped default carries one
