import numpy as np
import pytest
import torch
import torch.nn.functional as F

from balanced_fer.errors import BalancedFerError
from balanced_fer.imbalance import LOSSES, build_loss, class_weights

COUNTS = [1000, 300, 50]


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_runs_forward_and_backward(name):
    loss_fn = build_loss(name, COUNTS)
    logits = torch.randn(16, 3, requires_grad=True)
    targets = torch.randint(0, 3, (16,))
    loss_fn.set_epoch(0)
    loss = loss_fn(logits, targets)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_class_weights():
    w = class_weights([100, 10], "inverse")
    assert torch.allclose(w, torch.tensor([2 / 11, 20 / 11]))
    assert torch.allclose(class_weights([100, 10], "dbl"), torch.tensor([0.1, 10.0]) / 5.05)
    eff = class_weights([100, 10], "effective", beta=0.99)
    raw = np.array([(1 - 0.99) / (1 - 0.99**100), (1 - 0.99) / (1 - 0.99**10)])
    assert torch.allclose(eff, torch.tensor(raw / raw.mean(), dtype=torch.float32))
    with pytest.raises(BalancedFerError):
        class_weights([1, 2], "nope")


def test_balanced_softmax_is_ce_on_prior_shifted_logits():
    logits, targets = torch.randn(8, 3), torch.randint(0, 3, (8,))
    prior = torch.tensor(COUNTS, dtype=torch.float32) / sum(COUNTS)
    expected = F.cross_entropy(logits + prior.log(), targets)
    assert torch.allclose(build_loss("balanced_softmax", COUNTS)(logits, targets), expected)
    half = build_loss("logit_adjusted", COUNTS, tau=0.5)(logits, targets)
    assert torch.allclose(half, F.cross_entropy(logits + 0.5 * prior.log(), targets))


def test_focal_with_gamma_zero_is_ce():
    logits, targets = torch.randn(8, 3), torch.randint(0, 3, (8,))
    assert torch.allclose(build_loss("focal", COUNTS, gamma=0.0)(logits, targets), F.cross_entropy(logits, targets))


def test_ldam_margins_and_deferred_reweighting():
    loss_fn = build_loss("ldam", COUNTS, max_margin=0.5, drw_epoch=2)
    assert loss_fn.margins.max() == pytest.approx(0.5) and loss_fn.margins[2] == loss_fn.margins.max()
    logits, targets = torch.zeros(4, 3), torch.tensor([0, 1, 2, 2])
    before = loss_fn(logits, targets)
    loss_fn.set_epoch(2)
    after = loss_fn(logits, targets)
    assert loss_fn.reweight and not torch.allclose(before, after)
    margin = torch.zeros(4, 3)
    margin[range(4), targets] = loss_fn.margins[targets]
    assert torch.allclose(before, F.cross_entropy(logits - margin, targets))


def test_unknown_loss_or_option():
    with pytest.raises(BalancedFerError, match="unknown loss 'hinge'"):
        build_loss("hinge", COUNTS)
    with pytest.raises(BalancedFerError, match="loss 'focal'"):
        build_loss("focal", COUNTS, gama=2)
