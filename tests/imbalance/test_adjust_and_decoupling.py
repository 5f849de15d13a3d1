import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from balanced_fer.errors import BalancedFerError
from balanced_fer.imbalance import adjust_logits, prior_from
from balanced_fer.imbalance.decoupling import decouple_classifier, tau_normalize
from balanced_fer.models import Preprocessing, create_model


def test_adjust_logits_and_priors(tmp_path):
    logits = torch.zeros(2, 3)
    prior = np.array([0.7, 0.2, 0.1])
    adjusted = adjust_logits(logits, prior, tau=1.0)
    assert torch.allclose(adjusted[0], torch.tensor(-np.log(prior), dtype=torch.float32))
    assert adjusted[0].argmax() == 2  # the rarest class gains most
    same = adjust_logits(logits, prior, tau=1.0, target_prior=prior)
    assert torch.allclose(same, logits)
    assert np.allclose(prior_from("train", ["a", "b"], [30, 10]), [0.75, 0.25])
    assert np.allclose(prior_from("uniform", ["a", "b"], [30, 10]), [0.5, 0.5])
    (tmp_path / "p.json").write_text(json.dumps({"a": 1, "b": 3}))
    assert np.allclose(prior_from(str(tmp_path / "p.json"), ["a", "b"], [1, 1]), [0.25, 0.75])
    with pytest.raises(BalancedFerError, match="lacks classes"):
        prior_from(str(tmp_path / "p.json"), ["a", "c"], [1, 1])
    (tmp_path / "huge.json").write_text(json.dumps({"a": 1e308, "b": 1e308}))
    assert np.allclose(prior_from(str(tmp_path / "huge.json"), ["a", "b"], [1, 1]), [0.5, 0.5])  # no overflow


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": NaN, "b": 1}', "positive finite number"),  # Python's json reads NaN and Infinity
        ('{"a": Infinity, "b": 1}', "positive finite number"),
        ('{"a": 0, "b": 1}', "positive finite number"),
        ('{"a": -1, "b": 1}', "positive finite number"),
        ('{"a": "x", "b": 1}', "must be numbers"),
        ('{"a": true, "b": 1}', "must be numbers"),
        ('{"a": [1], "b": 1}', "must be numbers"),
        ("[1, 2]", "an object of class name: frequency"),
        ("{not json", "not a readable JSON prior"),
    ],
)
def test_hostile_prior_files_are_one_clear_error(tmp_path, text, message):
    (tmp_path / "prior.json").write_text(text)
    with pytest.raises(BalancedFerError, match=message):
        prior_from(str(tmp_path / "prior.json"), ["a", "b"], [1, 1])


def test_tau_normalisation():
    head = torch.nn.Linear(4, 3)
    tau_normalize(head, 1.0)
    assert torch.allclose(head.weight.norm(dim=1), torch.ones(3)) and (head.bias == 0).all()


@pytest.mark.parametrize("method", ["crt", "lws", "tau_norm"])
def test_decoupling_keeps_the_architecture(method):
    torch.manual_seed(0)
    model = create_model("vgg_compact_s", num_classes=3, in_chans=1)
    before = sum(p.numel() for p in model.parameters())
    head_before = model.head.weight.detach().clone()
    images = np.random.default_rng(0).integers(0, 255, (60, 48, 48, 1), dtype=np.uint8)
    labels = np.repeat([0, 1, 2], [40, 15, 5])
    cfg = SimpleNamespace(method=method, epochs=2, lr=0.1, tau=1.0, sampler="class_balanced")
    probe = torch.randn(2, 1, 44, 44)
    features_before = model.eval().forward_features(probe)
    decouple_classifier(model, images, labels, Preprocessing(), cfg)
    assert sum(p.numel() for p in model.parameters()) == before
    assert not torch.equal(model.head.weight, head_before)
    assert torch.equal(model.eval().forward_features(probe), features_before)  # the backbone is untouched


def test_unknown_method():
    model = create_model("vgg_compact_s", num_classes=3)
    with pytest.raises(BalancedFerError, match="unknown decoupling method"):
        decouple_classifier(
            model,
            np.zeros((1, 48, 48, 1), np.uint8),
            np.zeros(1, int),
            Preprocessing(),
            SimpleNamespace(method="xyz"),
        )
