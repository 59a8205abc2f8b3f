"""Independent NumPy versions of the operations the stems are made of (channels last)."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def relu(x):
    return np.maximum(x, 0.0)


def conv(x, kernel, bias=None, stride=1, padding=0):
    """N-d cross-correlation, as Caffe/Keras/torch layers compute it.

    x: (B, *spatial, C_in); kernel: (*window, C_in, C_out); padding: symmetric
    zeros per spatial side (int) or "same" (stride 1, odd kernels).
    """
    window = kernel.shape[:-2]
    if padding == "same":
        padding = [size // 2 for size in window]
    elif isinstance(padding, int):
        padding = [padding] * len(window)
    pad = [(0, 0)] + [(p, p) for p in padding] + [(0, 0)]
    x = np.pad(x.astype(np.float32), pad)
    axes = tuple(range(1, 1 + len(window)))
    patches = sliding_window_view(x, window, axis=axes)  # (B, *out, C_in, *window)
    patches = patches[(slice(None),) + tuple(slice(None, None, stride) for _ in window)]
    # move C_in after the window axes to match the kernel layout (*window, C_in)
    patches = np.moveaxis(patches, 1 + len(window), -1)  # (B, *out, *window, C_in)
    out_shape = patches.shape[: 1 + len(window)]
    flat = patches.reshape(out_shape + (-1,))
    y = flat @ kernel.reshape(-1, kernel.shape[-1]).astype(np.float32)
    if bias is not None:
        y = y + bias
    return y


def max_pool(x, size, stride=None, padding=0):
    """Max pooling over the spatial axes of (B, *spatial, C); zero padding (inputs are >= 0)."""
    size = tuple(size)
    stride = tuple(stride or size)
    pad = [(0, 0)] + [(padding, padding)] * len(size) + [(0, 0)]
    x = np.pad(x, pad)
    axes = tuple(range(1, 1 + len(size)))
    windows = sliding_window_view(x, size, axis=axes)  # (B, *out, C, *size)
    windows = windows[(slice(None),) + tuple(slice(None, None, s) for s in stride)]
    return windows.max(axis=tuple(range(-len(size), 0)))


def batch_norm(x, gamma, beta, mean, variance, epsilon):
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def global_average_pool(x):
    return x.mean(axis=tuple(range(1, x.ndim - 1)))


def vgg16_forward(x, params):
    """VGG16 conv blocks; params[name] = (kernel, bias) for conv1_1 ... conv5_3. Returns every map."""
    maps = {}
    for block, num_convs in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)):
        for index in range(1, num_convs + 1):
            name = f"conv{block}_{index}"
            x = relu(conv(x, *params[name], padding="same"))
            maps[name] = x
        x = max_pool(x, (2, 2))
        maps[f"pool{block}"] = x
    return maps


def he_normal(rng, shape):
    """Random weights that keep ReLU activations in a sane range through deep stacks."""
    fan_in = int(np.prod(shape[:-1]))
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
