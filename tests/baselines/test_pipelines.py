"""Tests for mlsm/baselines/pipelines.py."""
import numpy as np
import pytest

from mlsm.baselines.base import Method
from mlsm.baselines.classical import GammaCorrection
from mlsm.baselines.pipelines import Pipeline, PipelineStepError


class AddTenth:
    name = "add"

    def __call__(self, image):
        return np.clip(image + 0.1, 0, 1).astype(np.float32)


class Square:
    name = "square"

    def __call__(self, image):
        return (image * image).astype(np.float32)


class Crop:
    name = "crop"

    def __call__(self, image):
        return image[1:]


def test_steps_run_first_to_last():
    image = np.full((3, 5, 3), 0.2, np.float32)
    add_then_square = Pipeline([AddTenth(), Square()])
    square_then_add = Pipeline([Square(), AddTenth()])
    assert add_then_square.name == "add+square"
    assert square_then_add.name == "square+add"
    np.testing.assert_allclose(add_then_square(image), (0.2 + 0.1) ** 2, rtol=1e-6)
    np.testing.assert_allclose(square_then_add(image), 0.2 ** 2 + 0.1, rtol=1e-6)


def test_pipeline_is_a_method_with_the_contract():
    pipeline = Pipeline([AddTenth(), Square(), AddTenth()])
    assert isinstance(pipeline, Method)
    assert pipeline.name == "add+square+add"
    out = pipeline(np.random.default_rng(0).uniform(0, 1, (7, 9, 3)).astype(np.float32))
    assert out.shape == (7, 9, 3) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1


def test_single_step_and_real_methods():
    image = np.random.default_rng(1).uniform(0, 1, (4, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(Pipeline([Square()])(image), Square()(image))
    twice = Pipeline([GammaCorrection(0.5), GammaCorrection(0.5)])
    assert twice.name == "gamma+gamma"
    np.testing.assert_allclose(twice(image), GammaCorrection(0.25)(image), rtol=1e-5, atol=1e-6)


def test_empty_or_invalid_steps_are_rejected():
    with pytest.raises(ValueError, match="at least one"):
        Pipeline([])
    with pytest.raises(ValueError, match=r"steps\[1\]"):
        Pipeline([Square(), "square"])


def test_a_step_changing_the_shape_is_a_typed_error():
    with pytest.raises(PipelineStepError, match="crop"):
        Pipeline([Square(), Crop()])(np.zeros((4, 4, 3), np.float32))
