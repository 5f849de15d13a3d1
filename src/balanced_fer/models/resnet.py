"""ResNet-18/34/50 with torchvision's parameter names, so local torchvision or MS-Celeb-1M weights load."""

from __future__ import annotations

import torch
from torch import nn

from .base import Classifier, pooling
from .compact import BasicBlock, downsample_for
from .registry import register_model


class Bottleneck(nn.Module):
    """ResNet bottleneck block (1x1, 3x3, 1x1), stride on the 3x3 as in torchvision."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(Classifier):
    """torchvision-compatible ResNet; ``small_input`` swaps the 7x7/2 stem and max-pool for a 3x3/1
    stem (for 48-64 px faces), which changes only ``conv1``'s shape."""

    head_name = "fc"

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, int, int, int],
        num_classes: int,
        in_chans: int = 3,
        small_input: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.inplanes = 64
        if small_input:
            self.conv1 = nn.Conv2d(in_chans, 64, 3, 1, 1, bias=False)
            self.maxpool: nn.Module = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_chans, 64, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, 64, layers[0], 1)
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.pool = pooling(dropout)  # holds no parameter: torchvision's names are kept
        self.num_features = 512 * block.expansion
        self.fc = nn.Linear(self.num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block, planes: int, count: int, stride: int) -> nn.Sequential:
        layers = [block(self.inplanes, planes, stride, downsample_for(self.inplanes, planes * block.expansion, stride))]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(count - 1)]
        return nn.Sequential(*layers)

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


@register_model("resnet18", input_size=112)
def resnet18(num_classes: int, in_chans: int = 3, **kwargs) -> ResNet:
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_chans, **kwargs)


@register_model("resnet34", input_size=112)
def resnet34(num_classes: int, in_chans: int = 3, **kwargs) -> ResNet:
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_chans, **kwargs)


@register_model("resnet50", input_size=112)
def resnet50(num_classes: int, in_chans: int = 3, **kwargs) -> ResNet:
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_chans, **kwargs)
