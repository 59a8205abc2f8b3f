"""The attention layers of the five papers, one public layer per file.

Each layer is registered with ``keras.saving.register_keras_serializable(package="keras_fer")``
and accepts ``return_attention_scores=True`` in ``call``.
"""
