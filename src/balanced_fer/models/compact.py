"""Compact CPU-trainable networks for 40-64 px grey faces: VGG-style and residual, a few widths."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .base import Classifier, pooling
from .registry import register_model


def conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CompactVGG(Classifier):
    """Stages of 3x3 conv-BN-ReLU layers (``depths``, two each by default), max-pooling between stages,
    global average pooling."""

    def __init__(
        self,
        num_classes: int,
        in_chans: int = 1,
        widths: Sequence[int] = (32, 64, 128, 256),
        depths: Sequence[int] = (2, 2, 2, 2),
        dropout: float = 0.3,
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
                layers.append(conv_bn(cin, width))
                cin = width
        self.features = nn.Sequential(*layers)
        self.num_features = cin
        self.pool = pooling(dropout)
        self.head = nn.Linear(cin, num_classes)

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


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
