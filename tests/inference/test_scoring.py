import json

import numpy as np
import pytest
import torch

from balanced_fer.imbalance import build_loss, sampler_prior_removed
from balanced_fer.inference.scoring import deployment_logits, fit_temperature, output_log_prior
from balanced_fer.models import Architecture, Calibration, ModelDescription, Preprocessing

DESCRIPTION = ModelDescription(Architecture("vgg_compact_s", 2, 1), ("a", "b"), Preprocessing(), (90, 10))


def with_loss(name: str, sampler: str = "instance", **kwargs) -> ModelDescription:
    """The description training writes after ``name`` and ``sampler``: the weight they leave."""
    removed = build_loss(name, DESCRIPTION.train_counts, **kwargs).prior_removed + sampler_prior_removed(sampler)
    return DESCRIPTION.replace(trained_prior_weight=1.0 - removed)


def test_output_prior_follows_the_training():
    log_train = np.log([0.9, 0.1])
    assert np.allclose(output_log_prior(with_loss("ce")), log_train)
    assert np.allclose(output_log_prior(with_loss("balanced_softmax")), 0)
    assert np.allclose(output_log_prior(with_loss("logit_adjusted", tau=0.5)), 0.5 * log_train)
    assert np.allclose(output_log_prior(with_loss("weighted_ce", scheme="sqrt_inverse")), 0.5 * log_train)
    assert np.allclose(output_log_prior(with_loss("ce", sampler="class_balanced")), 0)
    assert np.allclose(output_log_prior(with_loss("ce", sampler="square_root")), 0.5 * log_train)
    assert np.allclose(output_log_prior(with_loss("ce").replace(post_hoc_tau=1.0)), 0)


def test_retargeting_to_a_prior(tmp_path):
    logits = torch.zeros(1, 2)
    ce = with_loss("ce")
    assert torch.allclose(deployment_logits(logits, ce), logits)
    assert torch.allclose(deployment_logits(logits, ce, "train"), logits)  # already the training prior

    def probabilities(scores):
        return torch.softmax(scores, dim=1)

    balanced = deployment_logits(logits, ce, "uniform")  # equal scores under the training prior -> favour b
    assert torch.allclose(probabilities(balanced), torch.tensor([[0.1, 0.9]]))
    (tmp_path / "prior.json").write_text(json.dumps({"a": 3, "b": 1}))
    moved = deployment_logits(logits, ce, str(tmp_path / "prior.json"))
    expected = torch.tensor([[0.75 / 0.9, 0.25 / 0.1]])
    assert torch.allclose(probabilities(moved), expected / expected.sum())
    uniform_model = deployment_logits(logits, with_loss("balanced_softmax"), "uniform")
    assert torch.allclose(probabilities(uniform_model), torch.tensor([[0.5, 0.5]]))


def test_temperature_is_applied_first_and_recovered_by_fitting():
    logits = torch.tensor([[2.0, 0.0]])
    assert torch.allclose(
        deployment_logits(logits, DESCRIPTION.replace(calibration=Calibration(2.0))), torch.tensor([[1.0, 0.0]])
    )
    rng = np.random.default_rng(0)
    true_logits = torch.as_tensor(rng.normal(0, 2, (4000, 3)), dtype=torch.float32)
    labels = torch.distributions.Categorical(logits=true_logits).sample().numpy()
    overconfident = true_logits * 3
    assert fit_temperature(overconfident, labels) == pytest.approx(3.0, rel=0.1)
