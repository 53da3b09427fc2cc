"""The temporal model: a dilated temporal convolutional network over a track's per-frame estimates,
in the manner of VideoPose3D (Pavllo et al., CVPR 2019).

Input per frame (``frame_features``): the frame model's 2D joints normalised by the image width
(centred, x in [-1, 1]), their confidences, and its 3D divided by the 4000 mm bone sum. Output: the
root-relative H36M-17 pose in mm of the centre frame of its window (the last frame when causal).
The network refines the frame model's 3D: a learned linear filter over the window's input 3D (the
output frame alone at first) plus the convolutions' correction (zero at first), so an untrained
model reproduces its input.

One set of weights runs two ways: on windows of exactly ``frames`` frames (training: each layer a
stride-3 convolution, one output per window) and densely over a whole sequence (testing: the same
kernels dilated 3, 9, 27, 81, one output per frame, the edges padded by repeating the first and last
frames, as VideoPose3D does).
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import load_weights, read_checkpoint, read_training_state
from .errors import UserError
from .joints import H36M_BONE_SUM_MM, H36M_FLIP_PERM, MPII_FLIP_PERM, NUM_H36M_JOINTS, NUM_JOINTS

RECEPTIVE_FIELDS = (27, 81, 243)
KERNEL = 3
# Feature layout per frame: 2D (16 x 2), confidence (16), 3D (17 x 3).
IN_2D, IN_CONF, IN_3D = NUM_JOINTS * 2, NUM_JOINTS, NUM_H36M_JOINTS * 3
NUM_FEATURES = IN_2D + IN_CONF + IN_3D
START_3D = IN_2D + IN_CONF
# Unit of the last layer's correction: a frame model errs by tens of mm, so the first optimiser
# steps (each moving every weight by about the learning rate) change the pose by a few mm.
CORRECTION_MM = 10.0
# The filter's weights are stored divided by this gain: an optimiser step moves them this much
# faster than the convolutions' weights (a few hundred steps take it from one frame to a smoothing).
BLEND_GAIN = 20.0


def frame_features(seq):
    """(T, NUM_FEATURES) float32 input of a ``sequences.Sequence``."""
    centre = np.array([seq.width, seq.height], np.float32) / 2
    xy = (seq.joints_2d - centre) / (seq.width / 2)
    parts = (xy.reshape(len(seq), -1), seq.confidence, seq.joints_3d.reshape(len(seq), -1) / H36M_BONE_SUM_MM)
    return np.concatenate(parts, axis=1).astype(np.float32)


def flip_features(x):
    """The features of the horizontally mirrored frames, (..., NUM_FEATURES): x negated in 2D and
    3D (2D is centred on the image), left and right joints swapped."""
    lead = x.shape[:-1]
    xy = x[..., :IN_2D].reshape(*lead, NUM_JOINTS, 2)[..., MPII_FLIP_PERM, :] * x.new_tensor([-1.0, 1.0])
    conf = x[..., IN_2D:START_3D][..., MPII_FLIP_PERM]
    return torch.cat([xy.reshape(*lead, -1), conf, flip_poses(x[..., START_3D:].reshape(*lead, -1, 3)).flatten(-2)], -1)


def flip_poses(y):
    """H36M-17 poses (..., 17, 3) mirrored: x negated, left and right swapped."""
    return y[..., H36M_FLIP_PERM, :] * y.new_tensor([-1.0, 1.0, 1.0])


class TemporalModel(nn.Module):
    """Dilated 1-D convolutions with residual blocks, batch norm and dropout (see the module doc)."""

    def __init__(self, frames=27, causal=False, channels=256, dropout=0.25):
        super().__init__()
        if frames not in RECEPTIVE_FIELDS:
            raise UserError(f"--frames must be one of {', '.join(map(str, RECEPTIVE_FIELDS))}, got {frames}")
        self.frames, self.causal = frames, causal
        self.layers = round(np.log(frames) / np.log(KERNEL))  # 3, 4 or 5 kernel-3 layers
        self.expand = nn.Conv1d(NUM_FEATURES, channels, KERNEL, bias=False)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
        self.dilated = nn.ModuleList(nn.Conv1d(channels, channels, KERNEL, bias=False) for _ in range(self.layers - 1))
        self.dilated_bn = nn.ModuleList(nn.BatchNorm1d(channels) for _ in range(self.layers - 1))
        self.pointwise = nn.ModuleList(nn.Conv1d(channels, channels, 1, bias=False) for _ in range(self.layers - 1))
        self.pointwise_bn = nn.ModuleList(nn.BatchNorm1d(channels) for _ in range(self.layers - 1))
        self.shrink = nn.Conv1d(channels, IN_3D, 1)
        nn.init.zeros_(self.shrink.weight)  # start as the identity on the frame model's 3D
        nn.init.zeros_(self.shrink.bias)
        # A learned linear filter over the window of the frame model's 3D, the base the network
        # corrects: it starts as the output frame alone (the identity) and learns to smooth fast,
        # while the convolutions learn the corrections it cannot make.
        self.blend_raw = nn.Parameter(torch.zeros(frames))
        with torch.no_grad():
            self.blend_raw[self.past] = 1.0 / BLEND_GAIN
        self.drop = nn.Dropout(dropout)

    @property
    def record(self):
        """What a checkpoint stores to rebuild this network (``from_record``)."""
        return {"task": "temporal", "frames": self.frames, "causal": self.causal, "channels": self.expand.out_channels}

    @classmethod
    def from_record(cls, record):
        return cls(record["frames"], record["causal"], record["channels"])

    @property
    def past(self):
        """Frames before the output frame that it sees (the rest of ``frames - 1`` lie after it)."""
        return self.frames - 1 if self.causal else (self.frames - 1) // 2

    def forward(self, x, dense=False):
        """``x`` (B, NUM_FEATURES, L) -> poses (B, L', 17, 3) mm, root-relative.

        Windows (``dense`` False): L = ``frames``, L' = 1. Dense: any L >= ``frames``, L' = L -
        frames + 1, output i belonging to input frame i + ``past``.
        """
        if not dense and x.shape[-1] != self.frames:
            raise ValueError(f"a window has {self.frames} frames, got {x.shape[-1]}")
        pick = KERNEL - 1 if self.causal else KERNEL // 2  # the frame of each kernel a residual keeps
        h = self.drop(F.relu(self.expand_bn(self._conv(self.expand, x, 1, dense))))
        for i in range(self.layers - 1):
            dilation = KERNEL ** (i + 1)
            if dense:
                skip = h[..., pick * dilation : h.shape[-1] - (KERNEL - 1 - pick) * dilation]
            else:
                skip = h[..., pick::KERNEL]
            h = self.drop(F.relu(self.dilated_bn[i](self._conv(self.dilated[i], h, dilation, dense))))
            h = skip + self.drop(F.relu(self.pointwise_bn[i](self.pointwise[i](h))))
        correction = self.shrink(h)  # (B, 51, L')
        frame_3d = x[:, START_3D:]  # (B, 51, L)
        blended = F.conv1d(frame_3d.reshape(-1, 1, x.shape[-1]), (self.blend_raw * BLEND_GAIN).view(1, 1, -1)).view(
            len(x), IN_3D, -1
        )
        pose = blended * H36M_BONE_SUM_MM + correction * CORRECTION_MM
        pose = pose.transpose(1, 2).reshape(len(x), -1, NUM_H36M_JOINTS, 3)
        return pose - pose[..., :1, :]

    @staticmethod
    def _conv(conv, x, dilation, dense):
        if dense:
            return F.conv1d(x, conv.weight, conv.bias, dilation=dilation)
        return F.conv1d(x, conv.weight, conv.bias, stride=KERNEL)

    def pad(self, features):
        """(T, F) -> (T + frames - 1, F): repeat the first frame ``past`` times before and the last after."""
        before, after = self.past, self.frames - 1 - self.past
        return np.concatenate([features[:1].repeat(before, 0), features, features[-1:].repeat(after, 0)])

    @torch.no_grad()
    def predict_sequence(self, features, device="cpu"):
        """Poses (T, 17, 3) mm for a whole sequence's features (T, F), one per frame."""
        self.eval()
        x = torch.from_numpy(self.pad(features)).to(device).T[None]
        return self(x, dense=True)[0].cpu().numpy()


def read_temporal_record(path):
    """The ``TemporalModel.record`` that checkpoint ``path`` stores; a one-line ``UserError`` for a
    missing or unreadable file, or a checkpoint of the frame model."""
    read_checkpoint(path)
    record = read_training_state(path).get("temporal")
    if not isinstance(record, dict):
        raise UserError(
            f"checkpoint {path} is not a temporal model (it records no temporal settings): give a checkpoint "
            f"of hg3d-train --task temporal"
        )
    return record


def load_temporal_model(path, device="cpu", log=print):
    """The temporal network of checkpoint ``path``, loaded strictly, on ``device`` in eval mode: the
    one way a temporal checkpoint becomes a model (``--test``, the demo's ``--temporal``)."""
    model = TemporalModel.from_record(read_temporal_record(path))
    load_weights(model, path, strict=True, log=log)
    return model.to(device).eval()


class TemporalLoss(nn.Module):
    """MPJPE (mm) of the output frames plus ``weight_velocity`` times the error of their velocity:
    the batch holds pairs of consecutive frames (rows 2k and 2k + 1)."""

    def __init__(self, weight_velocity):
        super().__init__()
        self.weight_velocity = weight_velocity

    def forward(self, output, batch):
        pose, target = output.reshape(-1, 2, NUM_H36M_JOINTS, 3), batch["target"].reshape(-1, 2, NUM_H36M_JOINTS, 3)
        mpjpe = torch.linalg.norm(pose - target, dim=-1).mean()
        velocity = torch.linalg.norm(torch.diff(pose, dim=1) - torch.diff(target, dim=1), dim=-1).mean()
        loss = mpjpe + self.weight_velocity * velocity
        return loss, {"loss": loss, "mpjpe": mpjpe, "velocity": velocity}


class WindowBatches:
    """Training batches of windows from every sequence, gathered in one indexing step.

    Each sequence's features are padded at its edges (``TemporalModel.pad``) and all are stacked;
    a batch is ``batch_size / 2`` random pairs of consecutive frames, each frame with its
    ``frames``-long window (``input`` (B, F, frames)) and ground truth (``target`` (B, 17, 3));
    with probability ``flip`` a pair is mirrored (features and ground truth alike). The windows of
    sequences whose inputs are ground truth (``Sequence.inputs_are_truth``) get fresh Gaussian
    noise every time: ``noise_px`` (std per coordinate, image pixels) on the 2D joints and
    ``noise_mm`` on the 3D (all joints but the root, which stays at the origin); other sequences'
    inputs already err as a frame model does and are left as they are. One epoch visits every
    pair once (the last incomplete batch dropped). Shuffling, flips and noise use torch's global
    generator, which ``Trainer.fit`` seeds per epoch.
    """

    sampler = None  # what Trainer.fit looks for on a DataLoader

    def __init__(self, sequences, model, batch_size, flip=0.5, noise_mm=0.0, noise_px=0.0):
        padded, rows, targets, offset = [], [], [], 0
        noise_std = np.zeros((len(sequences), NUM_FEATURES), np.float32)  # per sequence, in feature units
        for i, seq in enumerate(sequences):
            padded.append(model.pad(frame_features(seq)))
            rows.append(offset + np.arange(len(seq)))  # window start of each frame: the frame's padded row - past
            targets.append(seq.gt_3d)
            offset += len(padded[-1])
            if seq.inputs_are_truth:
                noise_std[i, :IN_2D] = noise_px / (seq.width / 2)
                noise_std[i, START_3D + 3 :] = noise_mm / H36M_BONE_SUM_MM
        self.features = torch.from_numpy(np.concatenate(padded))
        self.noise_std = torch.from_numpy(noise_std) if noise_std.any() else None
        self.sequence_of = torch.from_numpy(np.repeat(np.arange(len(sequences)), [len(p) for p in padded]))
        self.starts = torch.from_numpy(np.concatenate([r[:-1] for r in rows]))  # pairs (t, t + 1)
        self.targets = torch.zeros(len(self.features), NUM_H36M_JOINTS, 3)  # by window start
        self.targets[torch.from_numpy(np.concatenate(rows))] = torch.from_numpy(np.concatenate(targets))
        self.frames, self.batch_size, self.flip = model.frames, batch_size, flip
        self.dataset = self
        if len(self) == 0:
            raise UserError(
                f"the training sequences have {len(self.starts)} pairs of consecutive frames, fewer than "
                f"--batch_size {batch_size} / 2 (lower --batch_size)"
            )

    def __len__(self):
        return len(self.starts) // (self.batch_size // 2)

    def __iter__(self):
        pairs = self.batch_size // 2
        order = self.starts[torch.randperm(len(self.starts))]
        window = torch.arange(self.frames)
        for b in range(len(self)):
            first = order[b * pairs : (b + 1) * pairs]
            rows = torch.stack([first, first + 1], 1).reshape(-1)  # (B,): window start of each frame
            x = self.features[rows[:, None] + window]  # (B, frames, F)
            if self.noise_std is not None:
                x = x + torch.randn_like(x) * self.noise_std[self.sequence_of[rows]][:, None]
            y = self.targets[rows]
            mirrored = (torch.rand(pairs) < self.flip).repeat_interleave(2)
            x = torch.where(mirrored[:, None, None], flip_features(x), x)
            y = torch.where(mirrored[:, None, None], flip_poses(y), y)
            yield {"input": x.transpose(1, 2).contiguous(), "target": y}
