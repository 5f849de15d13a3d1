"""RASN: Residual Attentive Sharing Network (IEEE Access 2022) over any registered backbone.

No code was published; this is balanced-fer's reading, every choice a constructor option (and so a
recipe option, under ``model.kwargs``), documented in docs/rasn.md:

* **SAF, sharing affinity features** (after ARM, Shi & Zhu 2021): during training the shared
  feature is the mean feature map over the batch, so minority-class faces receive what the batch,
  dominated by majority classes, has learnt. At evaluation the shared feature must not depend on the
  other faces in the batch: ``shared_eval="ema"`` (default) uses a running average kept in training,
  ``"batch"`` ARM's test-batch mean, ``"off"`` none.
* **AFA, affinity features attention**: channel attention (squeeze-excitation) and optional spatial
  attention computed from the face's own pooled feature and the shared one (``afa_input="joint"``,
  default) or from the shared feature alone (``"shared"``, the same gate for every face), gating the
  shared feature before fusion.
* **Residual fusion**: ``F + alpha * AFA(S) * S`` with a learnable ``alpha``; the face's own feature
  map passes through unchanged, the attended shared features are added to it.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import Classifier, pooling
from .registry import create_model, register_model

SHARED_EVAL = ("ema", "batch", "off")


class AffinityAttention(nn.Module):
    """Channel (and optional spatial) attention gating the shared feature map."""

    def __init__(self, channels: int, reduction: int = 8, spatial: bool = True, joint: bool = True):
        super().__init__()
        hidden = max(channels // reduction, 8)
        self.joint = joint
        self.channel = nn.Sequential(
            nn.Linear(channels * (2 if joint else 1), hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )
        self.spatial = nn.Sequential(nn.Conv2d(2, 1, 7, padding=3), nn.Sigmoid()) if spatial else None

    def forward(self, own: torch.Tensor, shared: torch.Tensor) -> torch.Tensor:
        """Gated shared features for each face: (N, C, H, W)."""
        shared = shared.expand_as(own)
        summary = shared.mean(dim=(2, 3))
        if self.joint:
            summary = torch.cat([own.mean(dim=(2, 3)), summary], dim=1)
        gated = shared * self.channel(summary)[:, :, None, None]
        if self.spatial is not None:
            source = own + shared if self.joint else shared
            maps = torch.cat([source.mean(dim=1, keepdim=True), source.amax(dim=1, keepdim=True)], dim=1)
            gated = gated * self.spatial(maps)
        return gated


class RASN(Classifier):
    """A backbone's feature map, plus attended batch-shared affinity features, pooled into a new head."""

    def __init__(
        self,
        num_classes: int,
        in_chans: int = 1,
        backbone: str = "resnet_compact",
        backbone_kwargs: dict | None = None,
        backbone_pretrained: str | None = None,
        saf: bool = True,
        afa: bool = True,
        shared_eval: str = "ema",
        afa_input: str = "joint",
        spatial: bool = True,
        reduction: int = 8,
        alpha: float = 0.1,
        momentum: float = 0.1,
        dropout: float = 0.2,
    ):
        super().__init__()
        if shared_eval not in SHARED_EVAL:
            raise ValueError(f"shared_eval must be one of {SHARED_EVAL}, got {shared_eval!r}")
        if afa_input not in ("joint", "shared"):
            raise ValueError(f"afa_input must be 'joint' or 'shared', got {afa_input!r}")
        self.backbone = create_model(
            backbone, num_classes, in_chans=in_chans, pretrained=backbone_pretrained, **(backbone_kwargs or {})
        )
        setattr(self.backbone, self.backbone.head_name, nn.Identity())  # its head is never used
        self.num_features = channels = self.backbone.num_features
        self.saf, self.shared_eval, self.momentum = saf, shared_eval, momentum
        self.afa = AffinityAttention(channels, reduction, spatial, afa_input == "joint") if saf and afa else None
        self.alpha = nn.Parameter(torch.tensor(float(alpha))) if saf else None
        self.register_buffer("shared_running", torch.zeros(0))
        self.pool = pooling(dropout)
        self.head = nn.Linear(channels, num_classes)

    def _shared(self, fmap: torch.Tensor) -> torch.Tensor | None:
        """The shared affinity feature (1, C, H, W) for this batch, or None."""
        if self.training:
            batch_mean = fmap.mean(dim=0, keepdim=True)
            with torch.no_grad():  # kept in fp32: a bf16 average barely moves at momentum 0.1
                observed = batch_mean.detach().float()
                if self.shared_running.numel() != observed.numel():
                    self.shared_running = observed.clone()
                else:
                    self.shared_running.lerp_(observed, self.momentum)
            return batch_mean
        if self.shared_eval == "batch":
            return fmap.mean(dim=0, keepdim=True)
        if self.shared_eval == "ema" and self.shared_running.numel():
            return self.shared_running.to(fmap.dtype)
        return None

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        fmap = self.backbone.forward_map(x)
        if not self.saf:
            return fmap
        shared = self._shared(fmap)
        if shared is None:
            return fmap
        if shared.shape[1:] != fmap.shape[1:]:
            raise RuntimeError(
                f"shared feature {tuple(shared.shape[1:])} does not fit the feature map "
                f"{tuple(fmap.shape[1:])}: evaluate at the input size the model was trained on"
            )
        added = self.afa(fmap, shared) if self.afa is not None else shared.expand_as(fmap)
        return fmap + self.alpha * added

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "shared_running"
        if key in state_dict:  # the running feature's shape is known only once trained
            self.shared_running = torch.empty_like(state_dict[key], dtype=torch.float32)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


@register_model("rasn", input_size=44)
def rasn(num_classes: int, in_chans: int = 1, **kwargs) -> RASN:
    """RASN over ``backbone`` (default ``resnet_compact``)."""
    return RASN(num_classes, in_chans, **kwargs)


@register_model("rasn_resnet18", input_size=112)
def rasn_resnet18(num_classes: int, in_chans: int = 3, **kwargs) -> RASN:
    """RASN over a torchvision-compatible ResNet-18 (pass ``backbone_pretrained`` for MS-Celeb-1M weights)."""
    return RASN(num_classes, in_chans, backbone="resnet18", **kwargs)
