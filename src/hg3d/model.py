"""ResNet backbone + three deconvolution blocks + 1x1 heads (the "msra" pose network).

Parameter names, shapes and order follow the released checkpoints exactly
(``docs/reference.md``, "The network"), so they load with ``strict=True``.
"""

import os

import torch
from torch import nn
from torchvision.models import resnet as tv_resnet

from .archs import ARCHS, RESNET_STAGES
from .errors import UserError

BN_MOMENTUM = 0.1
DECONV_FILTERS = 256
BLOCKS = {"basic": tv_resnet.BasicBlock, "bottleneck": tv_resnet.Bottleneck}
# depth -> (block type, blocks per stage, torchvision ImageNet weights enum)
RESNET_SPECS = {
    depth: (BLOCKS[kind], layers, getattr(tv_resnet, f"ResNet{depth}_Weights").IMAGENET1K_V1)
    for depth, (kind, layers) in RESNET_STAGES.items()
}


def parse_arch(arch):
    """'msra_50' -> 50, with a one-line error for anything else."""
    name, _, depth = arch.partition("_")
    if name != "msra" or not depth.isdigit() or int(depth) not in RESNET_SPECS:
        raise UserError(f"unknown --arch '{arch}': choose one of {', '.join(ARCHS)}")
    return int(depth)


class PoseResNet(nn.Module):
    """Backbone (stride 32) -> 3 x [ConvTranspose 4x4 s2 -> BN -> ReLU] (stride 4) -> heads."""

    def __init__(self, depth, heads):
        super().__init__()
        block, layers, _ = RESNET_SPECS[depth]
        backbone = tv_resnet.ResNet(block, list(layers))
        self.conv1, self.bn1, self.relu, self.maxpool = (backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            backbone.layer1,
            backbone.layer2,
            backbone.layer3,
            backbone.layer4,
        )
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = BN_MOMENTUM

        deconv = []
        in_channels = 512 * block.expansion
        for _ in range(3):
            deconv += [
                nn.ConvTranspose2d(
                    in_channels, DECONV_FILTERS, kernel_size=4, stride=2, padding=1, output_padding=0, bias=False
                ),
                nn.BatchNorm2d(DECONV_FILTERS, momentum=BN_MOMENTUM),
                nn.ReLU(inplace=True),
            ]
            in_channels = DECONV_FILTERS
        self.deconv_layers = nn.Sequential(*deconv)

        self.heads = dict(heads)
        # Sorted registration order is the released checkpoints' key order ('depth' before 'hm').
        for head in sorted(self.heads):
            setattr(self, head, nn.Conv2d(DECONV_FILTERS, self.heads[head], kernel_size=1))
        self.init_head_weights()

    def init_head_weights(self):
        """Deconv and head weights N(0, 0.001), head bias 0, BN weight 1 / bias 0."""
        for module in self.deconv_layers:
            if isinstance(module, nn.ConvTranspose2d):
                nn.init.normal_(module.weight, std=0.001)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for head in self.heads:
            nn.init.normal_(getattr(self, head).weight, std=0.001)
            nn.init.zeros_(getattr(self, head).bias)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.deconv_layers(x)
        return [{head: getattr(self, head)(x) for head in self.heads}]


def imagenet_weights_file(depth):
    """Where torchvision keeps the ImageNet weights of this ResNet: <hub dir>/checkpoints/<file>."""
    weights = RESNET_SPECS[depth][2]
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(weights.url))


def load_imagenet_backbone(model, depth, log=print):
    """Copy torchvision's ImageNet weights into the backbone, as the original always started.

    torchvision's weights API reads the file from the hub cache, or downloads it there first. When
    it is not cached and cannot be downloaded (no network), training stops with one line naming the
    file and where to put it; ``--no_pretrained`` is the explicit way to start from random init.
    """
    weights = RESNET_SPECS[depth][2]
    path = imagenet_weights_file(depth)
    cached = os.path.isfile(path)
    try:
        state = weights.get_state_dict(map_location="cpu", progress=False, check_hash=True, weights_only=True)
    except Exception as exc:  # network errors (URLError, timeouts) or an unreadable file
        if cached:
            raise UserError(
                f"cannot read the ImageNet weights {path} ({exc}): delete the file to "
                f"download it again, or pass --no_pretrained"
            ) from None
        raise UserError(
            f"the ImageNet weights of the ResNet-{depth} backbone are not cached and could "
            f"not be downloaded ({exc}): put {os.path.basename(path)} ({weights.url}) in "
            f"{os.path.dirname(path)}, or pass --no_pretrained to start from random "
            f"init"
        ) from None
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    backbone_missing = [k for k in missing if not k.startswith(("deconv_layers.", *model.heads))]
    if unexpected or backbone_missing:
        raise UserError(
            f"{path} does not hold the ImageNet weights of a ResNet-{depth} "
            f"({len(backbone_missing)} backbone tensors missing, {len(unexpected)} unexpected): "
            f"delete it to download it again, or pass --no_pretrained"
        )
    log(f"loaded ImageNet weights for the backbone from {path}")


def create_model(arch, heads, imagenet=False, log=print):
    """Build the network for ``arch`` ('msra_N') with ``heads`` ({'hm': 16, 'depth': 16}), with an
    ImageNet backbone when ``imagenet`` (a UserError when the weights cannot be had)."""
    depth = parse_arch(arch)
    model = PoseResNet(depth, heads)
    if imagenet:
        load_imagenet_backbone(model, depth, log)
    return model
