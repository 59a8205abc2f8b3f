"""The attention layers of the five papers, one public layer per file.

Each layer is registered with ``keras.saving.register_keras_serializable(package="keras_fer")``
and accepts ``return_attention_scores=True`` in ``call``.
"""
from keras_fer.layers.channel_3d_attention import Channel3DAttention
from keras_fer.layers.context_attention import ContextAttention
from keras_fer.layers.emotional_intensity_activation import EmotionalIntensityActivation
from keras_fer.layers.frame_self_attention import FrameSelfAttention
from keras_fer.layers.local_global_relation import LocalGlobalRelation
from keras_fer.layers.non_local_block import NonLocalBlock
from keras_fer.layers.soft_mask_branch import SoftMaskBranch
from keras_fer.layers.spatial_temporal_attention import SpatialTemporalAttention
from keras_fer.layers.temporal_affinity_attention import TemporalAffinityAttention

__all__ = [
    "ContextAttention",
    "Channel3DAttention",
    "SpatialTemporalAttention",
    "FrameSelfAttention",
    "SoftMaskBranch",
    "TemporalAffinityAttention",
    "LocalGlobalRelation",
    "EmotionalIntensityActivation",
    "NonLocalBlock",
]
