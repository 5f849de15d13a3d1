"""Batched augmentation of uint8 face tensors in torch: the same code on CPU and CUDA, no per-image loop.

Optional degradations come first (Gaussian blur, low resolution: what phone and webcam faces suffer,
``benchmarks/robustness.py``). Geometric changes (crop / translate / scale, flip, rotation) are folded
into one affine warp per image and applied to the whole batch with a single ``grid_sample``;
photometric changes and random erasing are tensor arithmetic with per-image random values. Mixup and CutMix mix images and return
the partner indices and weights for the loss.

The random values come from torch's global generator, or from a table with one row of uniform numbers
per face (:func:`view_draws`): then a face's view depends only on the table's seed, the epoch and the
face, not on the batch it falls in or the device, so teachers can score the views a student will see
before it trains (``bfer soft-targets --views``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F


@dataclass
class AugmentConfig:
    """Augmentation strengths; zero turns a transform off."""

    scale: float = 0.15  # zoom in/out by up to this fraction
    translate: float = 0.1  # shift by up to this fraction of the size
    rotate: float = 10.0  # degrees
    flip: float = 0.5  # probability of a horizontal flip
    brightness: float = 0.25  # additive, fraction of full range
    contrast: float = 0.25  # multiplicative around the image mean
    erase: float = 0.25  # probability of erasing one random rectangle
    erase_area: tuple[float, float] = (0.02, 0.2)
    blur: float = 0.0  # probability of a Gaussian blur, sigma up to blur_sigma pixels of the input
    blur_sigma: float = 1.5
    downscale: float = 0.0  # probability of resampling down to downscale_min..1 of the size and back up
    downscale_min: float = 0.4
    mixup: float = 0.0  # Beta(alpha, alpha) parameter; 0 = off
    cutmix: float = 0.0  # Beta(alpha, alpha) parameter; 0 = off
    mix_prob: float = 0.5  # probability that a batch is mixed when mixup / cutmix is on


VIEW_DRAWS = 17  # uniform numbers one view of a face takes at most (every transform on)
PROBABILITIES = ("flip", "erase", "blur", "downscale", "mix_prob")  # AugmentConfig fields from 0 to 1
BOUNDED = ("scale", "blur_sigma", "downscale_min", "erase_area")  # fields with bounds of their own


MIXING = ("mixup", "cutmix", "mix_prob")  # AugmentConfig fields applied to whole batches, after the views


def view_config(cfg: AugmentConfig) -> dict:
    """The fields of ``cfg`` that shape one face's view (all but batch mixing), as JSON-ready values."""
    return {
        f.name: list(v) if isinstance(v := getattr(cfg, f.name), tuple) else v
        for f in fields(cfg)
        if f.name not in MIXING
    }


def augment_problems(cfg: AugmentConfig) -> list[str]:
    """What no run can use in ``cfg`` (``augment.<field>`` messages for a recipe's checks)."""
    problems = []
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if f.name in PROBABILITIES and not 0 <= value <= 1:
            problems.append(f"augment.{f.name} is a probability from 0 to 1, got {value}")
        elif f.name not in PROBABILITIES + BOUNDED and not 0 <= value < math.inf:
            problems.append(f"augment.{f.name} must be 0 (off) or a positive finite number, got {value}")
    low, high = cfg.erase_area
    checks = [
        (0 <= cfg.scale < 1, f"augment.scale must be from 0 to below 1 (zooms 1 +- scale), got {cfg.scale}"),
        (0 < cfg.blur_sigma < math.inf, f"augment.blur_sigma must be a positive finite number, got {cfg.blur_sigma}"),
        (0 < cfg.downscale_min <= 1, f"augment.downscale_min must be above 0 and at most 1, got {cfg.downscale_min}"),
        (
            0 < low <= high <= 1,
            f"augment.erase_area must be fractions 0 < low <= high <= 1, got {list(cfg.erase_area)}",
        ),
    ]
    return problems + [message for ok, message in checks if not ok]


def to_float(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """(N, H, W, C) or (N, C, H, W) uint8 -> normalised float (N, C, H, W)."""
    if images.ndim == 4 and images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):
        images = images.permute(0, 3, 1, 2)
    return (images.float() / 255.0 - mean) / std


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """Central ``size`` x ``size`` crop of a (N, C, H, W) batch (resized if it is smaller)."""
    h, w = x.shape[-2:]
    if h < size or w < size:
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top : top + size, left : left + size]


def view_draws(seed: int, epoch: int, count: int) -> torch.Tensor:
    """The (count, VIEW_DRAWS) float64 uniform numbers that fix ``count`` faces' views in ``epoch``
    (:func:`augment_batch`'s ``draws``, a row per face), the same on every machine and device."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.rand((count, VIEW_DRAWS), generator=generator, dtype=torch.float64)


class _Uniform:
    """Per-image uniform values for one batch: from torch's global generator, or a column of ``draws``
    per call (a whole-image tensor, such as erase noise, from a CPU generator seeded by its column)."""

    def __init__(self, n: int, device: torch.device, draws: torch.Tensor | None):
        if draws is not None and (draws.shape[0] != n or draws.shape[1] < VIEW_DRAWS):
            raise ValueError(f"draws must be ({n}, {VIEW_DRAWS}), got {tuple(draws.shape)}")
        self.n, self.device, self.draws, self.column = n, device, draws, 0

    def __call__(self, low: float, high: float, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        if self.draws is None:
            return torch.rand(shape or (self.n,), device=self.device) * (high - low) + low
        column = self.draws[:, self.column]
        self.column += 1
        if shape is None:
            values = column.float()
        else:
            seeds = (column * 2**53).long().tolist()
            values = torch.stack([torch.rand(shape[1:], generator=torch.Generator().manual_seed(s)) for s in seeds])
        return values.to(self.device) * (high - low) + low


def augment_batch(x: torch.Tensor, size: int, cfg: AugmentConfig, draws: torch.Tensor | None = None) -> torch.Tensor:
    """Randomly warp, flip, recolour and erase a normalised (N, C, H, W) float batch, returning
    (N, C, size, size): the random crop samples a ``size`` window around the centre. Randomness comes
    from torch's global generator (seeded per epoch by the trainer), or from ``draws``, a row of
    :func:`view_draws` per image, which fixes each image's view."""
    n = x.shape[0]
    uniform = _Uniform(n, x.device, draws)
    if cfg.blur:
        x = _blur(x, cfg, uniform)
    if cfg.downscale:
        x = _downscale(x, cfg, uniform)
    base = size / x.shape[-1]  # the output window as a fraction of the input
    zoom = base * uniform(1 - cfg.scale, 1 + cfg.scale)
    angle = uniform(-cfg.rotate, cfg.rotate) * math.pi / 180
    flip = torch.where(uniform(0, 1) < cfg.flip, -1.0, 1.0)
    slack = (1 - base) + 2 * cfg.translate
    tx, ty = uniform(-slack, slack) / 2, uniform(-slack, slack) / 2
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, [n, x.shape[1], size, size], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if cfg.contrast or cfg.brightness:
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        contrast = uniform(1 - cfg.contrast, 1 + cfg.contrast).view(n, 1, 1, 1)
        bright = uniform(-cfg.brightness, cfg.brightness).view(n, 1, 1, 1) * 4  # full range = 4 std units
        out = (out - mean) * contrast + mean + bright
    if cfg.erase:
        out = _erase(out, cfg, uniform)
    return out


def _blur(x: torch.Tensor, cfg: AugmentConfig, uniform) -> torch.Tensor:
    """A separable Gaussian blur of random strength on the selected images (phone and webcam softness)."""
    n, c, h, w = x.shape
    sigma = uniform(0.3, cfg.blur_sigma).clamp(min=1e-3)
    radius = max(int(math.ceil(3 * cfg.blur_sigma)), 1)
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-(offsets.view(1, -1) ** 2) / (2 * sigma.view(-1, 1) ** 2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (n * c, taps)
    flat = x.reshape(1, n * c, h, w)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="replicate"), kernel.view(n * c, 1, 1, -1), groups=n * c)
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="replicate"), kernel.view(n * c, 1, -1, 1), groups=n * c)
    active = (uniform(0, 1) < cfg.blur).view(n, 1, 1, 1)
    return torch.where(active, flat.view(n, c, h, w), x)


def _downscale(x: torch.Tensor, cfg: AugmentConfig, uniform) -> torch.Tensor:
    """Low resolution: the selected images resampled down (area) and back up (bilinear)."""
    n, _, h, w = x.shape
    factors = uniform(cfg.downscale_min, 1.0)
    chosen = torch.nonzero(uniform(0, 1) < cfg.downscale).flatten().tolist()
    out = x.clone()
    for i in chosen:  # one size per image: a short loop over at most a batch
        small = (max(int(h * float(factors[i])), 4), max(int(w * float(factors[i])), 4))
        low = F.interpolate(x[i : i + 1], size=small, mode="area")
        out[i : i + 1] = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    return out


def _erase(x: torch.Tensor, cfg: AugmentConfig, uniform) -> torch.Tensor:
    """Replace one random rectangle per selected image by uniform noise (Zhong et al. 2020)."""
    n, _, h, w = x.shape
    area = uniform(*cfg.erase_area) * h * w
    aspect = torch.exp(uniform(math.log(0.3), math.log(3.3)))
    eh = torch.sqrt(area * aspect).clamp(1, h)
    ew = torch.sqrt(area / aspect).clamp(1, w)
    top = uniform(0, 1) * (h - eh)
    left = uniform(0, 1) * (w - ew)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (
        (rows >= top.view(n, 1, 1))
        & (rows < (top + eh).view(n, 1, 1))
        & (cols >= left.view(n, 1, 1))
        & (cols < (left + ew).view(n, 1, 1))
    )
    active = (uniform(0, 1) < cfg.erase).view(n, 1, 1)
    return torch.where((inside & active).unsqueeze(1), uniform(-2, 2, tuple(x.shape)), x)


def mix_batch(x: torch.Tensor, cfg: AugmentConfig) -> tuple[torch.Tensor, torch.Tensor | None, float]:
    """Mixup or CutMix a batch: returns (mixed images, partner permutation or None, weight of the
    original labels). The loss is ``lam * loss(y) + (1 - lam) * loss(y[perm])``."""
    if not (cfg.mixup or cfg.cutmix) or torch.rand(1).item() >= cfg.mix_prob:
        return x, None, 1.0
    use_cutmix = bool(cfg.cutmix) and (not cfg.mixup or torch.rand(1).item() < 0.5)
    alpha = cfg.cutmix if use_cutmix else cfg.mixup
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(x.shape[0]).to(x.device)
    if not use_cutmix:
        return lam * x + (1 - lam) * x[perm], perm, lam
    h, w = x.shape[-2:]
    cut = math.sqrt(1 - lam)
    ch, cw = int(h * cut), int(w * cut)
    cy, cx = int(torch.randint(h, (1,))), int(torch.randint(w, (1,)))
    y0, y1, x0, x1 = max(cy - ch // 2, 0), min(cy + ch // 2, h), max(cx - cw // 2, 0), min(cx + cw // 2, w)
    mixed = x.clone()
    mixed[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]
    return mixed, perm, 1 - (y1 - y0) * (x1 - x0) / (h * w)
