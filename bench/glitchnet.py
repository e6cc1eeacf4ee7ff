"""GlitchNet (src/model/{efficientnet,glitchnet}.rs) in PyTorch, for the comparison benchmarks of issue #7.

The same network as ours, layer for layer: EfficientNet-Lite0 with TensorFlow "SAME" padding (asymmetric for
stride 2: computed from the input size exactly as Burn's PaddingConfig2d::Same), batch norm eps 1e-3 and
momentum 0.01, ReLU6, no squeeze-and-excitation; the backbone truncated after global average pooling; a linear
head over the four view embeddings side by side (a missing view is a zero block) plus the four presence flags;
the glitch embedding is the mean of the present views' embeddings.

Unlike ours (which gathers only the present views on the host), this graph takes a dense
`[batch, 4, 3, H, W]` input and a `[batch, 4]` mask, so that it exports to ONNX with static shapes. With all four
views present (as in every benchmark here) both run the backbone on batch x 4 images: the same work.

Weights come from `bench_native export` (trainer/examples/bench_native): one .npy per tensor, named by our
module paths (`backbone.blocks.3.depthwise_conv.weight`, ...; Burn's Linear weight is [in, out]).
"""

import math
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NUM_VIEWS = 4
HEAD_CHANNELS = 1280
STEM_CHANNELS = 32
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # TF 0.99; PyTorch and Burn both weight the new batch by this
# (repeats, kernel, stride, expand, out) of EfficientNet-Lite0's seven stages.
STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]


def same_padding(size, kernel, stride):
    """TF SAME padding (before, after) along one axis."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv(nn.Conv2d):
    """Conv2d without bias, padded like TensorFlow's SAME (no padding inside the convolution itself)."""

    def __init__(self, cin, cout, kernel, stride=1, groups=1):
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=False)

    def forward(self, x):
        h, w = x.shape[-2:]
        k, s = self.kernel_size[0], self.stride[0]
        top, bottom = same_padding(int(h), k, s)
        left, right = same_padding(int(w), k, s)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def bn(channels):
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MbConv(nn.Module):
    def __init__(self, cin, cout, kernel, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.expand_conv = SameConv(cin, hidden, 1) if expand != 1 else None
        self.bn0 = bn(hidden) if expand != 1 else None
        self.depthwise_conv = SameConv(hidden, hidden, kernel, stride, groups=hidden)
        self.bn1 = bn(hidden)
        self.project_conv = SameConv(hidden, cout, 1)
        self.bn2 = bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, inp):
        x = inp
        if self.expand_conv is not None:
            x = F.relu6(self.bn0(self.expand_conv(x)))
        x = F.relu6(self.bn1(self.depthwise_conv(x)))
        x = self.bn2(self.project_conv(x))
        return x + inp if self.residual else x


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_stem = SameConv(3, STEM_CHANNELS, 3, 2)
        self.bn0 = bn(STEM_CHANNELS)
        blocks, cin = [], STEM_CHANNELS
        for repeats, kernel, stride, expand, cout in STAGES:
            for r in range(repeats):
                blocks.append(MbConv(cin, cout, kernel, stride if r == 0 else 1, expand))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.conv_head = SameConv(cin, HEAD_CHANNELS, 1)
        self.bn1 = bn(HEAD_CHANNELS)

    def forward(self, images):
        """[n, 3, H, W] -> pooled features [n, 1280]."""
        x = F.relu6(self.bn0(self.conv_stem(images)))
        for block in self.blocks:
            x = block(x)
        x = F.relu6(self.bn1(self.conv_head(x)))
        return x.mean(dim=(2, 3))


class GlitchNet(nn.Module):
    def __init__(self, num_classes=22, dropout=0.2):
        super().__init__()
        self.backbone = Backbone()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(NUM_VIEWS * HEAD_CHANNELS + NUM_VIEWS, num_classes)

    def forward(self, views, mask):
        """views [B, 4, 3, H, W], mask [B, 4] (1 = view present) -> (logits [B, C], embedding [B, 1280])."""
        b = views.shape[0]
        feats = self.backbone(views.reshape(b * NUM_VIEWS, *views.shape[2:])).reshape(b, NUM_VIEWS, HEAD_CHANNELS)
        feats = feats * mask.unsqueeze(-1)
        embedding = feats.sum(1) / mask.sum(1, keepdim=True)
        logits = self.head(self.dropout(torch.cat([feats.reshape(b, -1), mask], 1)))
        return logits, embedding


class Classify(nn.Module):
    """What our classifier returns: class probabilities (softmax of the logits over the card's calibration
    temperature) and the embedding (the exported ONNX graph)."""

    def __init__(self, net, temperature=1.0):
        super().__init__()
        self.net = net
        self.temperature = float(temperature)

    def forward(self, views, mask):
        logits, embedding = self.net(views, mask)
        return torch.softmax(logits / self.temperature, 1), embedding


def temperature(export_dir):
    """The card's calibration temperature that `bench_native export` wrote (1 for an older export)."""
    path = os.path.join(export_dir, "calibration.json")
    return json.load(open(path))["temperature"] if os.path.exists(path) else 1.0


def load(weights_dir):
    """A GlitchNet with the tensors `bench_native export` wrote (every parameter and statistic must be there)."""
    files = {f[:-4]: os.path.join(weights_dir, f) for f in os.listdir(weights_dir) if f.endswith(".npy")}
    head_w = np.load(files["head.weight"])
    net = GlitchNet(num_classes=head_w.shape[1])
    state = {}
    for key, value in net.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state[key] = value
            continue
        ours = key.replace(".weight", ".gamma").replace(".bias", ".beta") if _is_bn(key) else key
        if ours not in files:
            raise KeyError(f"{key}: no {ours}.npy in {weights_dir}")
        array = np.load(files.pop(ours))
        if key == "head.weight":
            array = array.T  # Burn's Linear is [in, out]
        if tuple(array.shape) != tuple(value.shape):
            raise ValueError(f"{key}: shape {array.shape} in the file, {tuple(value.shape)} in the network")
        state[key] = torch.from_numpy(np.ascontiguousarray(array))
    if files:
        raise ValueError(f"tensors in {weights_dir} the network does not use: {sorted(files)}")
    net.load_state_dict(state)
    return net


def _is_bn(key):
    parts = key.split(".")
    return len(parts) >= 2 and parts[-2].startswith("bn") and parts[-1] in ("weight", "bias")
