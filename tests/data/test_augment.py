import pytest
import torch

from balanced_fer.data.augment import (
    AugmentConfig,
    augment_batch,
    center_crop,
    mix_batch,
    to_float,
    view_config,
    view_draws,
)

OFF = AugmentConfig(scale=0, translate=0, rotate=0, flip=0, brightness=0, contrast=0, erase=0)


def batch(n=8, size=48):
    return torch.randint(0, 256, (n, size, size, 1), dtype=torch.uint8)


def test_to_float_layout_and_range():
    x = to_float(batch(), 0.5, 0.25)
    assert x.shape == (8, 1, 48, 48) and x.dtype == torch.float32
    assert x.min() >= -2 and x.max() <= 2


def test_identity_when_everything_is_off():
    x = to_float(batch(), 0.5, 0.25)
    assert torch.allclose(augment_batch(x, 48, OFF), x, atol=1e-4)
    flat = to_float(torch.full((2, 48, 48, 1), 77, dtype=torch.uint8), 0.5, 0.25)
    assert torch.allclose(augment_batch(flat, 44, OFF), center_crop(flat, 44), atol=1e-5)  # a crop, no padding


def test_flip_mirrors_exactly():
    x = to_float(batch(), 0.5, 0.25)
    flipped = augment_batch(x, 48, AugmentConfig(**{**OFF.__dict__, "flip": 1.0}))
    assert torch.allclose(flipped, torch.flip(x, dims=[3]), atol=1e-4)


def test_default_augmentation_is_random_but_seeded():
    x = to_float(batch(), 0.5, 0.25)
    torch.manual_seed(0)
    a = augment_batch(x, 44, AugmentConfig())
    torch.manual_seed(0)
    b = augment_batch(x, 44, AugmentConfig())
    assert a.shape == (8, 1, 44, 44) and torch.equal(a, b)
    assert not torch.allclose(a, center_crop(x, 44), atol=0.1)


def test_draws_fix_each_face_view_whatever_its_batch_and_the_global_generator():
    x = to_float(batch(12), 0.5, 0.25)
    every = AugmentConfig(blur=0.5, downscale=0.5, erase=0.5)  # every transform on: all the draws taken
    draws = view_draws(3, 7, 12)
    torch.manual_seed(0)
    whole = augment_batch(x, 44, every, draws)
    torch.manual_seed(1)
    order = torch.tensor([5, 0, 11, 2])  # another batch: other faces, other order
    assert torch.equal(augment_batch(x[order], 44, every, draws[order]), whole[order])
    assert not torch.allclose(whole, augment_batch(x, 44, every, view_draws(3, 8, 12)), atol=0.1)  # another epoch
    assert torch.equal(view_draws(3, 7, 12), draws) and not torch.equal(view_draws(4, 7, 12), draws)
    assert draws.dtype == torch.float64 and 0 <= draws.min() and draws.max() < 1
    with pytest.raises(ValueError, match="draws must be"):
        augment_batch(x, 44, every, draws[:5])


def test_the_view_config_leaves_out_batch_mixing_only():
    config = view_config(AugmentConfig(mixup=0.2, rotate=5))
    assert config["rotate"] == 5 and config["erase_area"] == [0.02, 0.2]
    assert not {"mixup", "cutmix", "mix_prob"} & config.keys()
    assert len(config) == len(AugmentConfig.__dataclass_fields__) - 3


def test_mixup_and_cutmix():
    x = to_float(batch(), 0.5, 0.25)
    torch.manual_seed(0)
    same, perm, lam = mix_batch(x, AugmentConfig())
    assert perm is None and lam == 1.0 and same is x
    mixed, perm, lam = mix_batch(x, AugmentConfig(mixup=0.4, mix_prob=1.0))
    assert torch.allclose(mixed, lam * x + (1 - lam) * x[perm])
    cut, perm, lam = mix_batch(x, AugmentConfig(cutmix=1.0, mix_prob=1.0))
    changed = (cut != x).any(dim=1).float().mean().item()
    assert 0 < lam <= 1 and cut.shape == x.shape and changed <= 1 - lam + 0.05


def detail(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of horizontal neighbours, per image."""
    return (x[..., 1:] - x[..., :-1]).abs().mean(dim=(1, 2, 3))


def test_blur_and_low_resolution_remove_detail_only_where_drawn():
    torch.manual_seed(0)
    x = to_float(batch(), 0.5, 0.25)
    for name in ("blur", "downscale"):
        always = augment_batch(x, 48, AugmentConfig(**{**OFF.__dict__, name: 1.0}))
        assert (detail(always) < 0.7 * detail(x)).all(), name
        assert torch.allclose(always.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=0.05)  # same brightness
        never = augment_batch(x, 48, AugmentConfig(**{**OFF.__dict__, name: 1e-9}))
        assert torch.allclose(never, x, atol=1e-4), name
    torch.manual_seed(1)
    half = augment_batch(x, 48, AugmentConfig(**{**OFF.__dict__, "blur": 0.5}))
    changed = ~torch.isclose(half, x, atol=1e-4).flatten(1).all(1)
    assert 0 < int(changed.sum()) < len(x)
