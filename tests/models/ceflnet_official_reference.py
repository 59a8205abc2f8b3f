"""NumPy version of the CEFLNet authors' released forward pass after the ResNet-18, for the model tests.

Written from a reading of CVLab-Liuyuanyuan/CEFLNet ``models/Model.py``
(``ResNet_AT.forward``, eval mode, so no dropout), not copied from it. It
reads the official ``state_dict`` names and PyTorch layouts (Linear weights
(out, in), ``MultiheadAttention``'s packed ``in_proj``, Conv1d weights (out,
in, width)), so the same dict tests both ``ceflnet_official`` and the
converter. Per clip i, on the clip's frame features f_k (K, 512):

* SAL: 4-head self-attention among the frames (scale 1 / sqrt(128)), output
  projection, residual, LayerNorm -> f'_k; g = max_k f'_k.
* LRL: w_k = sigmoid(beta [f_k ; g]); R_i = fc([sum_k w_k f_k / sum_k w_k ; g])
  (fc 1024 -> 512).
* EIAN: A = softmax_i(R_i . t) (the Conv1d of width 1, no bias); video =
  max_i A_i R_i.
* classifier: 512 -> 256 -> ReLU -> 128 -> ReLU -> classes.
"""

import numpy as np


def _linear(x, weights, name):
    return x @ weights[f"{name}.weight"].T + weights[f"{name}.bias"]


def _softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def multihead_self_attention(frames, weights, num_heads=4):
    """``nn.MultiheadAttention(query=key=value=frames)`` on one clip (K, E): outputs (K, E), head-mean scores (K, K)."""
    dim = frames.shape[-1]
    head_dim = dim // num_heads
    packed = frames @ weights["attn.in_proj_weight"].T + weights["attn.in_proj_bias"]  # (K, 3E): q, k, v
    q, k, v = packed[:, :dim], packed[:, dim : 2 * dim], packed[:, 2 * dim :]
    heads, scores = [], []
    for h in range(num_heads):
        part = slice(h * head_dim, (h + 1) * head_dim)
        s = _softmax(q[:, part] @ k[:, part].T / np.sqrt(head_dim))  # (K, K)
        scores.append(s)
        heads.append(s @ v[:, part])  # (K, head_dim)
    attended = np.concatenate(heads, axis=-1)  # (K, E)
    return _linear(attended, weights, "attn.out_proj"), np.mean(scores, axis=0)


def clip_feature(frames, weights, num_heads=4):
    """One clip (K, 512) -> R_i (512,), the LRL weights w (K,), the SAL scores (K, K)."""
    attended, scores = multihead_self_attention(frames, weights, num_heads)
    sal = _layer_norm(frames + attended, weights["norm1.weight"], weights["norm1.bias"])  # (K, 512)
    summary = sal.max(axis=0)  # (512,): max pooling over the frames
    local_global = np.concatenate([frames, np.broadcast_to(summary, frames.shape)], axis=-1)  # (K, 1024)
    w = 1.0 / (1.0 + np.exp(-_linear(local_global, weights, "beta.0")[:, 0]))  # (K,)
    pooled = (w[:, None] * local_global).sum(axis=0) / w.sum()  # (1024,) = [weighted mean of f ; summary]
    return _linear(pooled, weights, "fc"), w, scores


def forward(features, weights, num_heads=4):
    """Logits of the official head for features (B, N_clips, K, 512) of all valid frames.

    Args:
        features: ResNet-18 features, (B, N, K, 512).
        weights: the official ``state_dict`` as NumPy arrays (name -> array).

    Returns:
        dict of float64 arrays: ``logits`` (B, C), ``intensity`` A (B, N),
        ``lrl`` (B, N, K), ``sal`` (B, N, K, K).
    """
    features = np.asarray(features, np.float64)
    weights = {name: np.asarray(value, np.float64) for name, value in weights.items()}
    batch, num_clips, frames_per_clip, _ = features.shape
    out = {"logits": [], "intensity": [], "lrl": np.zeros((batch, num_clips, frames_per_clip)),
           "sal": np.zeros((batch, num_clips, frames_per_clip, frames_per_clip))}
    temporal = weights["temp_attn.attn.0.weight"][0, :, 0]  # (512,)
    for b in range(batch):
        clips = []
        for i in range(num_clips):
            clip, out["lrl"][b, i], out["sal"][b, i] = clip_feature(features[b, i], weights, num_heads)
            clips.append(clip)
        clips = np.stack(clips)  # (N, 512)
        intensity = _softmax(clips @ temporal)  # (N,)
        video = (intensity[:, None] * clips).max(axis=0)  # (512,)
        hidden = np.maximum(_linear(video, weights, "classifier.0"), 0.0)
        hidden = np.maximum(_linear(hidden, weights, "classifier.2"), 0.0)
        out["logits"].append(_linear(hidden, weights, "classifier.5.0"))
        out["intensity"].append(intensity)
    out["logits"] = np.stack(out["logits"])
    out["intensity"] = np.stack(out["intensity"])
    return out
