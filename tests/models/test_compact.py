"""The compact VGG's shape arguments (widths, per-stage depths and the head's pooling grid, as a recipe's
model.kwargs gives them) and its RepVGG branches."""

import pytest
import torch
from torch import nn

from balanced_fer.models import create_model, load_model
from balanced_fer.models.compact import RepConvBN
from balanced_fer.models.registry import model_kwargs_problems
from helpers import random_checkpoint


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


def test_a_pooling_grid_gives_the_head_every_cell_of_the_last_map(tmp_path):
    model = create_model("vgg_compact_s", 7, pool_grid=5).eval()
    assert model.num_features == 128 * 25 and model.head.in_features == 128 * 25
    x = torch.randn(2, 1, 44, 44)
    assert torch.equal(model.forward_features(x), model.forward_map(x).flatten(1))  # 44 px leaves a 5 x 5 map
    assert model(torch.randn(2, 1, 64, 64)).shape == (2, 7)  # any face size pools to the same grid
    path = random_checkpoint(tmp_path / "grid.safetensors", kwargs={"pool_grid": 5})
    loaded, _ = load_model(path)
    assert loaded.head.in_features == 128 * 25  # the file's recipe rebuilds the head it was saved with
    (problem,) = model_kwargs_problems("vgg_compact_s", {"pool_grid": 0})
    assert "pool_grid must be 1 or more, got 0" in problem


def _randomise_batch_norms(module: nn.Module) -> None:
    generator = torch.Generator().manual_seed(0)
    for bn in module.modules():
        if isinstance(bn, nn.BatchNorm2d):
            for tensor in (bn.weight.data, bn.bias.data, bn.running_mean):
                tensor.copy_(torch.randn(tensor.shape, generator=generator))
            bn.running_var.copy_(torch.rand(bn.running_var.shape, generator=generator) + 0.5)


@pytest.mark.parametrize(("cin", "cout"), [(16, 16), (16, 32)])
def test_repvgg_branches_fold_into_one_convolution_that_computes_the_same(cin, cout):
    block = RepConvBN(cin, cout)
    assert (block.identity is None) == (cin != cout)
    _randomise_batch_norms(block)
    x = torch.randn(2, cin, 11, 11)
    branches = block.eval()(x)
    block.reparameterize()
    assert [type(m) for m in block.children()] == [nn.Conv2d] and block.folded.weight.shape == (cout, cin, 3, 3)
    assert torch.allclose(block(x), branches, atol=1e-4)
    assert not torch.allclose(block(x), torch.relu(block.folded(x) - 0.1), atol=1e-2)  # the bias counts


def test_a_repvgg_network_has_the_usual_shape_and_folds_into_it_for_inference(tmp_path):
    model = create_model("vgg_compact_s", 7, repvgg=True)
    assert [m.conv3[0].out_channels for m in model.features if isinstance(m, RepConvBN)] == _conv_widths(
        create_model("vgg_compact_s", 7)
    )
    path = random_checkpoint(tmp_path / "repvgg.safetensors", kwargs={"repvgg": True})
    trainable, _ = load_model(path)
    folded, _ = load_model(path, for_inference=True)
    assert _conv_widths(folded) == [16, 16, 32, 32, 64, 64, 128, 128]
    x = torch.randn(3, 1, 44, 44)
    assert torch.allclose(folded(x), trainable(x), atol=1e-4)
    assert len(_conv_widths(trainable)) == 16  # the file keeps the branches, so training can go on


def _wide_net_with_idle_channels(pool_grid: int) -> nn.Module:
    """A vgg_compact whose channels beyond the strongest half a layer (by BN scale) output nothing."""
    torch.manual_seed(0)
    wide = create_model("vgg_compact", 7, pool_grid=pool_grid)
    for bn in (m for m in wide.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.weight.data = torch.rand(bn.num_features) + 0.5
        bn.running_mean.data, bn.running_var.data = torch.randn(bn.num_features), torch.rand(bn.num_features) + 0.5
        idle = torch.randperm(bn.num_features)[: bn.num_features // 2]
        bn.weight.data[idle], bn.bias.data[idle] = 0.0, 0.0
    return wide.eval()


@pytest.mark.parametrize("pool_grid", [1, 2])
def test_a_wider_network_narrowed_keeps_its_strongest_channels_and_computes_the_same(tmp_path, pool_grid):
    from safetensors.torch import save_file

    wide = _wide_net_with_idle_channels(pool_grid)
    save_file(wide.state_dict(), str(tmp_path / "wide.safetensors"))
    narrow = create_model("vgg_compact_s", 7, pool_grid=pool_grid, pretrained=tmp_path / "wide.safetensors").eval()
    x = torch.randn(3, 1, 44, 44)
    with torch.no_grad():  # the channels left out were idle, so nothing downstream misses them
        torch.testing.assert_close(narrow(x), wide(x))
    first_bn = wide.features[0][1]
    assert torch.equal(narrow.features[0][1].weight, first_bn.weight[first_bn.weight != 0])


def test_what_cannot_be_narrowed_is_an_error_naming_the_layer(tmp_path):
    from safetensors.torch import save_file

    from balanced_fer.errors import BalancedFerError

    save_file(create_model("vgg_compact_s", 7).state_dict(), str(tmp_path / "narrow.safetensors"))
    with pytest.raises(BalancedFerError, match=r"narrow.safetensors: features.0.0.weight: \(16, 1, 3, 3\) cannot be"):
        create_model("vgg_compact", 7, pretrained=tmp_path / "narrow.safetensors")
    save_file(create_model("vgg_compact", 7, depths=[1, 2, 2, 2]).state_dict(), str(tmp_path / "shallow.safetensors"))
    with pytest.raises(BalancedFerError, match="not a CompactVGG of this depth"):
        create_model("vgg_compact_s", 7, pretrained=tmp_path / "shallow.safetensors")
    save_file(create_model("vgg_compact", 7).state_dict(), str(tmp_path / "wide.safetensors"))
    with pytest.raises(BalancedFerError, match="only plain layers"):
        create_model("vgg_compact_s", 7, repvgg=True, pretrained=tmp_path / "wide.safetensors")


def test_weights_of_the_same_widths_load_unchanged_and_another_head_stays_initialised(tmp_path):
    from safetensors.torch import save_file

    source = create_model("vgg_compact_s", 7)
    save_file(source.state_dict(), str(tmp_path / "same.safetensors"))
    torch.manual_seed(1)
    eight = create_model("vgg_compact_s", 8, pretrained=tmp_path / "same.safetensors")
    assert all(
        torch.equal(a, b) for a, b in zip(eight.features.state_dict().values(), source.features.state_dict().values())
    )
    assert eight.head.weight.shape == (8, 128)


def test_a_shipped_model_s_name_starts_a_student_from_its_weights():
    from balanced_fer.pretrained import pretrained_path

    narrowed = create_model("vgg_compact_s", 7, pretrained="default")
    again = create_model("vgg_compact_s", 7, pretrained=pretrained_path("default"))
    assert all(torch.equal(a, b) for a, b in zip(narrowed.state_dict().values(), again.state_dict().values()))


def test_a_colour_network_narrowed_into_a_grey_one_sums_its_first_layer_over_colours(tmp_path):
    from safetensors.torch import save_file

    colour = create_model("vgg_compact", 7, in_chans=3)
    save_file(colour.state_dict(), str(tmp_path / "colour.safetensors"))
    grey = create_model("vgg_compact_s", 7, pretrained=tmp_path / "colour.safetensors")
    kept = torch.arange(16)  # untrained scales tie: the first channels, in order
    assert torch.equal(grey.features[0][0].weight, colour.features[0][0].weight[kept].sum(1, keepdim=True))
