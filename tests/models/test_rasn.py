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
