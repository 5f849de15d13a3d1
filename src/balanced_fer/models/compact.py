"""Compact CPU-trainable networks for 40-64 px grey faces: VGG-style and residual, a few widths."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BalancedFerError
from .base import Classifier, pooling
from .registry import register_model


def conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def fold_bn(weight: torch.Tensor, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel and bias of a bias-free convolution followed by ``bn`` (in eval mode) as one convolution."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return weight * scale.view(-1, 1, 1, 1), bn.bias - bn.running_mean * scale


class RepConvBN(nn.Module):
    """A 3x3 conv-BN-ReLU that trains with two more branches summed before the ReLU: a 1x1 conv-BN and,
    where the width does not change, a BN of the input itself (RepVGG, Ding et al., CVPR 2021).
    :meth:`reparameterize` folds the three into one 3x3 convolution with a bias, which computes the same
    as the branches in eval mode and costs what :func:`conv_bn` costs."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv3 = nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.conv1 = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.identity = nn.BatchNorm2d(cout) if cin == cout else None
        self.folded: nn.Conv2d | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.folded is not None:
            return F.relu(self.folded(x))
        out = self.conv3(x) + self.conv1(x)
        if self.identity is not None:
            out = out + self.identity(x)
        return F.relu(out)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Replace the branches by the one convolution they compute in eval mode (for inference only)."""
        if self.folded is not None:
            return
        weight, bias = fold_bn(self.conv3[0].weight, self.conv3[1])
        weight_1x1, bias_1x1 = fold_bn(self.conv1[0].weight, self.conv1[1])
        weight, bias = weight + F.pad(weight_1x1, [1, 1, 1, 1]), bias + bias_1x1
        if self.identity is not None:
            width = weight.shape[0]
            eye = torch.eye(width, dtype=weight.dtype, device=weight.device).view(width, width, 1, 1)
            weight_id, bias_id = fold_bn(F.pad(eye, [1, 1, 1, 1]), self.identity)
            weight, bias = weight + weight_id, bias + bias_id
        folded = nn.Conv2d(weight.shape[1], weight.shape[0], 3, 1, 1).to(weight.device)
        folded.weight.copy_(weight)
        folded.bias.copy_(bias)
        self.folded = folded
        del self.conv3, self.conv1, self.identity


class CompactVGG(Classifier):
    """Stages of 3x3 conv-BN-ReLU layers (``depths``, two each by default), max-pooling between stages,
    global average pooling (or, with ``pool_grid`` g > 1, average pooling to a g x g map, flattened, so
    the head sees where on the face each feature is). With ``repvgg`` each layer trains with RepVGG's
    extra branches (:class:`RepConvBN`), which :func:`~.base.reparameterize_model` folds away: the same
    network at inference."""

    def __init__(
        self,
        num_classes: int,
        in_chans: int = 1,
        widths: Sequence[int] = (32, 64, 128, 256),
        depths: Sequence[int] = (2, 2, 2, 2),
        dropout: float = 0.3,
        repvgg: bool = False,
        pool_grid: int = 1,
    ):
        super().__init__()
        if len(depths) != len(widths) or min(depths) < 1:
            raise ValueError(f"depths {list(depths)} must give each of the {len(widths)} stages one layer or more")
        layers: list[nn.Module] = []
        cin = in_chans
        for i, (width, depth) in enumerate(zip(widths, depths)):
            if i:
                layers.append(nn.MaxPool2d(2))
            for _ in range(depth):
                layers.append(RepConvBN(cin, width) if repvgg else conv_bn(cin, width))
                cin = width
        self.features = nn.Sequential(*layers)
        self.num_features = cin * pool_grid**2
        self.pool = pooling(dropout, pool_grid)
        self.head = nn.Linear(self.num_features, num_classes)

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def fit_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A wider network of this shape (same depths and pooling, plain layers) narrowed to this one:
        each layer keeps the output channels with the largest BatchNorm scale (network slimming's
        measure, Liu et al., ICCV 2017; ties keep the earlier channel), the next layer and the head read
        only those. A state of this network's widths is returned as it is."""
        own = self.state_dict()
        if all(key in own and state[key].shape == own[key].shape for key in state):
            return state
        fitted, kept = dict(state), None  # kept: the channels the previous layer kept
        for index, layer in enumerate(self.features):
            if isinstance(layer, nn.MaxPool2d):
                continue
            if not isinstance(layer, nn.Sequential):
                raise BalancedFerError("only plain layers (repvgg false) can be narrowed from a wider network")
            conv, bn = f"features.{index}.0.weight", f"features.{index}.1."
            if conv not in state or bn + "weight" not in state:
                raise BalancedFerError(f"the weights have no layer {conv}: not a {type(self).__name__} of this depth")
            weight = state[conv] if kept is None else state[conv][:, kept]
            width, first = own[conv].shape[0], int(kept is None)  # the first layer's colours may differ
            if weight.shape[0] < width or weight.shape[1 + first :] != own[conv].shape[1 + first :]:
                raise BalancedFerError(
                    f"{conv}: {tuple(state[conv].shape)} cannot be narrowed to {tuple(own[conv].shape)}"
                )
            kept = state[bn + "weight"].abs().argsort(descending=True, stable=True)[:width].sort().values
            fitted[conv] = weight[kept]
            for name in ("weight", "bias", "running_mean", "running_var"):
                fitted[bn + name] = state[bn + name][kept]
        head = state["head.weight"]
        cells = head.shape[1] // len(state[bn + "weight"])  # the pooling grid's cells per channel
        fitted["head.weight"] = head.view(len(head), -1, cells)[:, kept].reshape(len(head), -1)
        return fitted


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs) with a projection shortcut when the shape changes."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


def downsample_for(inplanes: int, planes: int, stride: int) -> nn.Module | None:
    if stride == 1 and inplanes == planes:
        return None
    return nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))


class CompactResNet(Classifier):
    """A 3x3 stem and one basic block per stage (stride 2 from the second stage), for small faces."""

    def __init__(
        self,
        num_classes: int,
        in_chans: int = 1,
        widths: tuple[int, ...] = (32, 64, 128, 256),
        blocks: tuple[int, ...] = (1, 1, 1, 1),
        dropout: float = 0.2,
    ):
        super().__init__()
        self.stem = conv_bn(in_chans, widths[0])
        stages = []
        cin = widths[0]
        for i, (width, count) in enumerate(zip(widths, blocks)):
            stride = 1 if i == 0 else 2
            stage = [BasicBlock(cin, width, stride, downsample_for(cin, width, stride))]
            stage += [BasicBlock(width, width) for _ in range(count - 1)]
            stages.append(nn.Sequential(*stage))
            cin = width
        self.stages = nn.Sequential(*stages)
        self.num_features = cin
        self.pool = pooling(dropout)
        self.head = nn.Linear(cin, num_classes)

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


@register_model("vgg_compact_s", input_size=44)
def vgg_compact_s(
    num_classes: int, in_chans: int = 1, widths: Sequence[int] = (16, 32, 64, 128), **kwargs
) -> CompactVGG:
    return CompactVGG(num_classes, in_chans, widths=widths, **kwargs)


@register_model("vgg_compact", input_size=44)
def vgg_compact(num_classes: int, in_chans: int = 1, **kwargs) -> CompactVGG:
    return CompactVGG(num_classes, in_chans, **kwargs)


@register_model("resnet_compact_s", input_size=44)
def resnet_compact_s(num_classes: int, in_chans: int = 1, **kwargs) -> CompactResNet:
    return CompactResNet(num_classes, in_chans, widths=(16, 32, 64, 128), **kwargs)


@register_model("resnet_compact", input_size=44)
def resnet_compact(num_classes: int, in_chans: int = 1, **kwargs) -> CompactResNet:
    return CompactResNet(num_classes, in_chans, widths=(32, 64, 128, 256), **kwargs)


@register_model("resnet_compact_l", input_size=48)
def resnet_compact_l(num_classes: int, in_chans: int = 1, **kwargs) -> CompactResNet:
    return CompactResNet(num_classes, in_chans, widths=(48, 96, 192, 384), blocks=(1, 2, 2, 1), **kwargs)
