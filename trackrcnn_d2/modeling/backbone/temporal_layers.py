"""Temporal layers over a clip's time axis (Sec. 5 "Integrating temporal context", Table 4).

A temporal layer maps the features of consecutive frames of one sequence, stacked along the
batch axis, (T, C, H, W), to features of the same shape and channel count, so that it can sit
between any backbone and the RPN/ROI heads. The frames are given as a *window* of the sequence:

* ``starts_sequence``: no frame of the sequence precedes the window (else the window starts with
  context frames whose outputs are not wanted);
* ``ends_sequence``: no frame follows the window.

At a sequence (or training clip) boundary the input is zero-padded in time (Sec. 6). Where the
window does not reach a boundary, a 3D convolution needs its neighbour frame and therefore
returns one output frame less on that side ("valid" in time). This is what lets near-online
inference compute only the one output frame it needs.
"""
from typing import List, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "Conv3dTemporalLayer",
    "ConvLSTMTemporalLayer",
    "SeparableConv3dTemporalLayer",
    "TemporalLayerStack",
]

# ConvLSTM: one (hidden, cell) pair per LSTM; None for layers without a state.
RecurrentState = Optional[Tuple[Tuple[torch.Tensor, torch.Tensor], ...]]


class _Conv3dOverTime(nn.Module):
    """A 3x3x3 convolution over (time, height, width), then an optional ReLU: zero padding in
    time at sequence boundaries, "valid" in time elsewhere (see the module docstring)."""

    lookback = 1
    lookahead = 1

    def __init__(self, relu: bool):
        super().__init__()
        self.relu = relu

    def forward(
        self,
        x: torch.Tensor,
        *,
        starts_sequence: bool = True,
        ends_sequence: bool = True,
        state: RecurrentState = None,
    ) -> Tuple[torch.Tensor, RecurrentState]:
        """(T, C, H, W) -> (T - [not starts_sequence] - [not ends_sequence], C, H, W)."""
        padded = F.pad(x, (0, 0, 0, 0, 0, 0, int(starts_sequence), int(ends_sequence)))
        y = self._convolve(padded, padded.shape[0] - 2)
        if self.relu:
            y = F.relu(y)
        return y, None

    def _convolve(self, padded: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(num_frames + 2, C, H, W) padded frames -> (num_frames, C, H, W), before the ReLU."""
        raise NotImplementedError


class Conv3dTemporalLayer(_Conv3dOverTime):
    """3x3x3 convolution over (time, height, width), then ReLU (Sec. 6).

    Initialised to the identity (the centre tap is the identity matrix, all other taps and the
    bias-free rest zero), so a pretrained detector's features pass unchanged at step 0 - exactly
    so if ``relu`` is off or the inputs are non-negative (post-ReLU ResNet stages).
    """

    def __init__(self, channels: int, relu: bool = True):
        super().__init__(relu)
        # No bias, as in the original implementation: it would only shift the identity init.
        self.conv = nn.Conv3d(channels, channels, kernel_size=3, padding=(0, 1, 1), bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[:, :, 1, 1, 1] = torch.eye(channels)

    def _convolve(self, padded: torch.Tensor, num_frames: int) -> torch.Tensor:
        # self.conv as one 2D convolution over frames t-1, t, t+1 stacked on the channel axis:
        # the same weights and result, several times faster on the CPU than nn.Conv3d.
        stacked = torch.cat([padded[dt : dt + num_frames] for dt in range(3)], dim=1)
        out_channels, in_channels = self.conv.weight.shape[:2]
        weight = self.conv.weight.transpose(1, 2).reshape(out_channels, 3 * in_channels, 3, 3)
        return F.conv2d(stacked, weight, padding=1)


class SeparableConv3dTemporalLayer(_Conv3dOverTime):
    """Depthwise-separable 3x3x3 convolution, then ReLU: the released code's
    ``SepConv3DOverBatch`` (configs/conv3d_sep2), not the paper's dense Conv3D.

    A per-channel 3x3x3 filter (``depthwise``, centre tap 1, rest 0), then a 1x1x1 convolution
    over all channels (``pointwise``, the identity matrix), both without bias, so the layer
    starts as the identity like :class:`Conv3dTemporalLayer`. It equals a dense Conv3D whose
    weight is ``W[o, i] = pointwise[o, i] * depthwise[i]``, with C * (27 + C) weights instead
    of 27 * C^2.
    """

    def __init__(self, channels: int, relu: bool = True):
        super().__init__(relu)
        self.depthwise = nn.Conv3d(
            channels, channels, kernel_size=3, padding=(0, 1, 1), groups=channels, bias=False
        )
        self.pointwise = nn.Conv3d(channels, channels, kernel_size=1, bias=False)
        with torch.no_grad():
            self.depthwise.weight.zero_()
            self.depthwise.weight[:, :, 1, 1, 1] = 1.0
            self.pointwise.weight.copy_(torch.eye(channels)[:, :, None, None, None])

    def _convolve(self, padded: torch.Tensor, num_frames: int) -> torch.Tensor:
        # The depthwise 3x3x3 filter as three grouped 2D convolutions over frames t-1, t, t+1.
        channels = padded.shape[1]
        y = sum(
            F.conv2d(
                padded[dt : dt + num_frames],
                self.depthwise.weight[:, :, dt],
                padding=1,
                groups=channels,
            )
            for dt in range(3)
        )
        return F.conv2d(y, self.pointwise.weight[:, :, 0])


class ConvLSTMTemporalLayer(nn.Module):
    """Convolutional LSTM (Shi et al.) with a skip connection (Sec. 6, Table 4).

    ``num_lstms`` LSTMs (``hidden_channels`` features each, randomly initialised) read the
    frames in order, each the previous one's hidden state; the last hidden state is mapped back
    to the input's channel count by a 3x3 convolution with ReLU and added to the input with
    learnt weights initialised to ``skip_weights`` = (input, LSTM) weights, so that at step 0
    the output stays close to the pretrained features (the original implementation's
    ``LinearCombination`` with initial weights 1.0 and 0.05). Two LSTMs under one projection
    and skip are the released code's 2xConvLSTM (configs/lstm_stacked2); ``forget_bias`` is
    added to the forget gate's pre-activation (released code: 1.0).
    """

    lookback = 0
    lookahead = 0

    def __init__(
        self,
        channels: int,
        hidden_channels: int,
        kernel_size: int = 5,
        skip_weights: Tuple[float, float] = (1.0, 0.05),
        *,
        num_lstms: int = 1,
        forget_bias: float = 0.0,
    ):
        super().__init__()
        self.hidden_channels = hidden_channels
        self.forget_bias = forget_bias
        self.gates = nn.ModuleList(
            nn.Conv2d(
                (channels if i == 0 else hidden_channels) + hidden_channels,
                4 * hidden_channels,
                kernel_size,
                padding=kernel_size // 2,
            )
            for i in range(num_lstms)
        )
        self.output_projection = nn.Conv2d(hidden_channels, channels, 3, padding=1)
        self.skip_weights = nn.Parameter(torch.tensor(skip_weights, dtype=torch.float32))

    def forward(
        self,
        x: torch.Tensor,
        *,
        starts_sequence: bool = True,
        ends_sequence: bool = True,
        state: RecurrentState = None,
    ) -> Tuple[torch.Tensor, RecurrentState]:
        """(T, C, H, W), state of the frame before x[0] or None -> (T, C, H, W), state.

        The state is one (hidden, cell) pair per LSTM. The window boundary flags do not matter
        to a recurrent layer: its past is in ``state`` and it never looks ahead.
        """
        del starts_sequence, ends_sequence
        if state is None:
            zeros = x.new_zeros((1, self.hidden_channels) + tuple(x.shape[2:]))
            state = tuple((zeros, zeros) for _ in self.gates)
        state = list(state)
        outputs = []
        for frame in x.split(1):
            for i, gates in enumerate(self.gates):
                hidden, cell = state[i]
                gate_values = gates(torch.cat([frame, hidden], dim=1))
                input_gate, forget_gate, output_gate, candidate = gate_values.chunk(4, dim=1)
                cell = torch.sigmoid(forget_gate + self.forget_bias) * cell + torch.sigmoid(
                    input_gate
                ) * torch.tanh(candidate)
                hidden = torch.sigmoid(output_gate) * torch.tanh(cell)
                state[i] = (hidden, cell)
                frame = hidden
            outputs.append(frame)
        lstm_features = F.relu(self.output_projection(torch.cat(outputs)))
        y = self.skip_weights[0] * x + self.skip_weights[1] * lstm_features
        return y, tuple(state)


class TemporalLayerStack(nn.Module):
    """Layers applied one after the other to one feature map of a window of frames.

    ``lookback``/``lookahead``: how many frames before/after a frame its output depends on,
    beyond what a recurrent state carries.
    """

    def __init__(self, layers: List[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.lookback = sum(layer.lookback for layer in layers)
        self.lookahead = sum(layer.lookahead for layer in layers)

    def forward(
        self,
        x: torch.Tensor,
        *,
        starts_sequence: bool = True,
        ends_sequence: bool = True,
        state: Optional[List[RecurrentState]] = None,
    ) -> Tuple[torch.Tensor, List[RecurrentState]]:
        """(T, C, H, W) window -> (T', C, H, W) outputs and the per-layer states.

        T' = T - lookback * [not starts_sequence] - lookahead * [not ends_sequence]: the
        outputs belong to the window's frames minus the context frames at non-boundary ends.
        """
        state = state if state is not None else [None] * len(self.layers)
        new_state = []
        for layer, layer_state in zip(self.layers, state):
            x, layer_state = layer(
                x, starts_sequence=starts_sequence, ends_sequence=ends_sequence, state=layer_state
            )
            new_state.append(layer_state)
        return x, new_state
