"""The compact VGG's shape arguments: widths and per-stage depths, as a recipe's model.kwargs gives them."""

import pytest
import torch
from torch import nn

from balanced_fer.models import create_model
from balanced_fer.models.registry import model_kwargs_problems


def _conv_widths(model: nn.Module) -> list[int]:
    return [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]


def test_the_registered_shapes_are_two_layers_a_stage():
    assert _conv_widths(create_model("vgg_compact_s", 7)) == [16, 16, 32, 32, 64, 64, 128, 128]
    assert _conv_widths(create_model("vgg_compact", 7)) == [32, 32, 64, 64, 128, 128, 256, 256]


def test_widths_and_depths_from_a_recipe_reshape_the_network():
    model = create_model("vgg_compact_s", 7, widths=[16, 32, 64, 192], depths=[1, 2, 2, 3])
    assert _conv_widths(model) == [16, 32, 32, 64, 64, 192, 192, 192]
    assert model.num_features == 192 and model(torch.randn(2, 1, 44, 44)).shape == (2, 7)


@pytest.mark.parametrize("depths", [[1, 2, 2], [0, 2, 2, 2]])
def test_depths_that_do_not_fit_the_widths_are_a_recipe_problem(depths):
    (problem,) = model_kwargs_problems("vgg_compact_s", {"depths": depths})
    assert f"depths {depths} must give each of the 4 stages one layer or more" in problem
