"""NumPy versions of CEFLNet's equations (Liu et al., 2022, eq. 1-9) with plain loops, for the model tests.

Each function reads the weights of the Keras layer it mirrors and runs one
video at a time, clip by clip, dropping masked (padded) frames and clips.
"""

import numpy as np


def _dense(x, dense):
    y = x @ np.asarray(dense.kernel.numpy(), np.float64)
    if dense.use_bias:
        y = y + np.asarray(dense.bias.numpy(), np.float64)
    return y


def _softmax(z):
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sal(layer, clip):
    """SAL on one clip's valid frames (K', D): LayerNorm(I + softmax(Q K^T / sqrt(D)) V W^O), eq. 1."""
    clip = np.asarray(clip, np.float64)
    q, k, v = _dense(clip, layer.query_dense), _dense(clip, layer.key_dense), _dense(clip, layer.value_dense)
    scores = np.stack([_softmax(q[i] @ k.T / np.sqrt(clip.shape[-1])) for i in range(len(clip))])  # (K', K')
    attended = scores @ v
    if layer.output_projection:
        attended = _dense(attended, layer.output_dense)
    x = clip + attended
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    gamma, beta = np.asarray(layer.norm.gamma.numpy(), np.float64), np.asarray(layer.norm.beta.numpy(), np.float64)
    return (x - mean) / np.sqrt(var + layer.norm.epsilon) * gamma + beta, scores


def lrl(layer, frames):
    """LRL on one clip's valid SAL outputs (K', D): eq. 2-3 with max (or mean) summary."""
    summary = frames.max(axis=0) if layer.summary_pooling == "max" else frames.mean(axis=0)
    q0 = np.asarray(layer.relation_kernel.numpy(), np.float64)[:, 0]
    q1 = np.asarray(layer.output_kernel.numpy(), np.float64)
    b0 = float(layer.relation_bias.numpy()[0]) if layer.use_bias else 0.0
    b1 = np.asarray(layer.output_bias.numpy(), np.float64) if layer.use_bias else 0.0
    w = np.array([_sigmoid(np.concatenate([summary, f]) @ q0 + b0) for f in frames])
    return (w @ frames / w.sum()) @ q1 + b1, w


def eian(layer, clips):
    """EIAN on the valid clip features (n', D), kernel size 1: A = softmax(V W), V^ = max_k A_k V_k (eq. 5-8)."""
    if layer.kernel_size != 1:
        raise ValueError("this reference covers kernel_size=1 only")
    kernel = np.asarray(layer.score_kernel.numpy(), np.float64)[0, :, 0]
    intensity = _softmax(clips @ kernel)
    activation = intensity[:, None] * clips
    video = activation.max(axis=0) if layer.pooling == "max" else activation.sum(axis=0)
    return video, intensity


def ceflnet_head(head, features, variant):
    """Logits of one CEFLNet head (``ceflnet_head(variant=...)``) for a batch, video by video.

    Padded frames are those whose features are all zero; padded clips those whose frames all are.

    Returns:
        dict: ``logits`` (B, C) and, where the variant has them, ``sal`` (B, N, K, K), ``lrl`` (B, N, K),
        ``eian`` (B, N), zero at padded positions.
    """
    features = np.asarray(features, np.float64)
    batch, num_clips, frames_per_clip, _ = features.shape
    valid = np.any(features != 0, axis=-1)  # (B, N, K)
    out = {"logits": [], "sal": np.zeros((batch, num_clips, frames_per_clip, frames_per_clip)),
           "lrl": np.zeros((batch, num_clips, frames_per_clip)), "eian": np.zeros((batch, num_clips))}
    for b in range(batch):
        if variant == "baseline":
            video = features[b][valid[b]].mean(axis=0)
        else:
            sal_frames = []  # per clip: (kept indices, SAL outputs)
            for i in range(num_clips):
                keep = np.flatnonzero(valid[b, i])
                if keep.size == 0:
                    continue
                outputs, scores = sal(head.get_layer("self_attention_learning"), features[b, i, keep])
                out["sal"][b, i][np.ix_(keep, keep)] = scores
                sal_frames.append((i, keep, outputs))
            if variant == "sal":
                video = np.concatenate([outputs for _, _, outputs in sal_frames]).mean(axis=0)
            else:
                clips = []
                for i, keep, outputs in sal_frames:
                    clip, w = lrl(head.get_layer("local_global_relation"), outputs)
                    out["lrl"][b, i, keep] = w
                    clips.append(clip)
                clips = np.stack(clips)
                if variant == "sal_lrl":
                    video = clips.mean(axis=0)
                else:
                    video, intensity = eian(head.get_layer("emotional_intensity_activation"), clips)
                    out["eian"][b, [i for i, _, _ in sal_frames]] = intensity
        out["logits"].append(_dense(video, head.get_layer("classifier")))
    out["logits"] = np.stack(out["logits"])
    return out
