"""The learning rate and the linear warm-up over training steps."""

from __future__ import annotations

import pytest

from balanced_fer.training import load_recipe
from balanced_fer.training.schedule import learning_rate, warmup_share


def test_a_warmup_ramps_in_linearly_and_never_overshoots():
    assert [warmup_share(step, 10, 2.5) for step in (0, 11, 24, 25, 300)] == [0.04, 0.48, 1.0, 1.0, 1.0]
    assert warmup_share(0, 10, 0.0) == 1.0  # no warm-up: the whole value from the first step
    assert warmup_share(2, 1, 2.5) == 1.0  # the last of 2.5 warm-up steps: 3 / 2.5 capped


def test_the_learning_rate_warms_up_then_decays_to_zero():
    recipe = load_recipe(values={"optim": {"lr": 0.1}, "schedule": {"epochs": 4, "warmup_epochs": 0.25}})
    rates = [learning_rate(recipe, step, 10) for step in range(40)]
    assert rates[:3] == pytest.approx([0.04, 0.08, 0.1])  # 2.5 warm-up steps: the third at the base rate
    assert max(rates) == pytest.approx(0.1) and rates == sorted(rates[:3]) + sorted(rates[3:], reverse=True)
    assert rates[-1] < 1e-3


def test_step_decay_divides_at_each_milestone():
    values = {"optim": {"lr": 1.0}, "schedule": {"epochs": 6, "warmup_epochs": 0, "schedule": "step"}}
    values["schedule"] |= {"step_milestones": [2, 4], "step_gamma": 0.5}
    recipe = load_recipe(values=values)
    assert [learning_rate(recipe, epoch * 10, 10) for epoch in range(6)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
