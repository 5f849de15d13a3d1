import pytest
import torch

from balanced_fer.models import create_model
from balanced_fer.models.rasn import RASN


def trained_rasn(**kwargs) -> RASN:
    torch.manual_seed(0)
    model = create_model("rasn", num_classes=7, in_chans=1, backbone="resnet_compact_s", **kwargs)
    model.train()
    for _ in range(3):
        model(torch.randn(16, 1, 44, 44))
    return model.eval()


def test_output_shapes_and_gradients_reach_both_modules():
    model = create_model("rasn", num_classes=7, in_chans=1, backbone="resnet_compact_s").train()
    x = torch.randn(8, 1, 44, 44)
    assert model.forward_map(x).shape == (8, model.num_features, 6, 6)
    assert model.forward_features(x).shape == (8, model.num_features)
    logits = model(x)
    assert logits.shape == (8, 7)
    logits.logsumexp(1).sum().backward()
    assert model.alpha.grad is not None and model.alpha.grad.abs() > 0  # SAF
    assert model.afa.channel[0].weight.grad.abs().sum() > 0  # AFA, channel
    assert model.afa.spatial[0].weight.grad.abs().sum() > 0  # AFA, spatial
    assert model.backbone.stem[0].weight.grad.abs().sum() > 0
    assert model.shared_running.shape == (1, model.num_features, 6, 6)


@pytest.mark.parametrize("shared_eval", ["ema", "off"])
def test_eval_scores_do_not_depend_on_the_batch(shared_eval):
    model = trained_rasn(shared_eval=shared_eval)
    faces = torch.randn(6, 1, 44, 44)
    with torch.no_grad():
        alone = torch.cat([model(faces[i : i + 1]) for i in range(6)])
        together = model(faces)
        with_others = model(torch.cat([faces, torch.randn(10, 1, 44, 44)]))[:6]
    assert torch.allclose(alone, together, atol=1e-5) and torch.allclose(alone, with_others, atol=1e-5)


def test_batch_mode_is_arms_test_batch_mean_and_does_depend_on_the_batch():
    model = trained_rasn(shared_eval="batch")
    faces = torch.randn(6, 1, 44, 44)
    with torch.no_grad():
        assert not torch.allclose(model(faces[:1]), model(faces)[:1], atol=1e-4)


def test_ablation_switches():
    plain = create_model("rasn", num_classes=7, saf=False)
    assert plain.alpha is None and plain.afa is None
    no_attention = create_model("rasn", num_classes=7, afa=False)
    assert no_attention.afa is None and no_attention.alpha is not None
    shared_only = create_model("rasn", num_classes=7, afa_input="shared", spatial=False)
    assert shared_only.afa.spatial is None and not shared_only.afa.joint
    with pytest.raises(ValueError, match="shared_eval"):
        create_model("rasn", num_classes=7, shared_eval="mean")


def test_state_round_trip_keeps_the_running_shared_feature():
    model = trained_rasn()
    fresh = create_model("rasn", num_classes=7, in_chans=1, backbone="resnet_compact_s")
    fresh.load_state_dict(model.state_dict())
    fresh.eval()
    x = torch.randn(3, 1, 44, 44)
    assert torch.equal(fresh.shared_running, model.shared_running) and torch.allclose(fresh(x), model(x))


def test_the_running_shared_feature_stays_fp32_and_moves_under_bf16_autocast():
    model = create_model("rasn", num_classes=7, in_chans=1, backbone="resnet_compact_s").train()
    ones = torch.ones(4, model.num_features, 6, 6, dtype=torch.bfloat16)
    model._shared(ones)
    step = torch.tensor(1.0078125, dtype=torch.bfloat16)  # one bf16 step above 1: a bf16 average never leaves 1
    for _ in range(50):
        model._shared(ones * step)
    expected = 1 + 0.0078125 * (1 - 0.9**50)
    assert model.shared_running.dtype == torch.float32
    assert torch.allclose(model.shared_running, torch.full_like(model.shared_running, expected), atol=1e-5)
    restored = create_model("rasn", num_classes=7, in_chans=1, backbone="resnet_compact_s")
    restored.load_state_dict({k: v.bfloat16() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    assert restored.shared_running.dtype == torch.float32


def test_the_seed_studys_control_is_the_method_with_saf_off_and_nothing_else():
    from balanced_fer.training.recipe import load_recipe
    from seed_study import STUDIES

    rows = STUDIES["methods"].rows
    (recipe, sets), (control_recipe, control_sets) = rows["RASN (SAF + AFA), CE"], rows["RASN control (saf: false), CE"]
    method, control = load_recipe(recipe, sets).to_dict(), load_recipe(control_recipe, control_sets).to_dict()
    assert method["model"]["kwargs"].pop("saf") is True and control["model"]["kwargs"].pop("saf") is False
    assert method == control
    with_saf = create_model(method["model"]["name"], 7, **method["model"]["kwargs"])
    without = create_model(control["model"]["name"], 7, saf=False, **control["model"]["kwargs"])
    shapes = {k: v.shape for k, v in without.state_dict().items() if k != "shared_running"}
    extra = {k for k in with_saf.state_dict() if k not in shapes}
    assert extra and all(k == "alpha" or k.startswith("afa.") or k == "shared_running" for k in extra)
    assert all(with_saf.state_dict()[k].shape == shape for k, shape in shapes.items())
