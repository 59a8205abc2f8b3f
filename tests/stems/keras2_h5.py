"""Write HDF5 files in the Keras-2 layout, as keras-vggface and Keras 2 ``save_weights`` do."""

import h5py
import numpy as np


def write_keras2_weights(path, layers, full_model=False):
    """Write ``layers`` = {layer name: [(weight name, array), ...]} in the Keras-2 layout.

    Root (or ``model_weights`` for a full-model file) attribute ``layer_names``;
    one group per layer with attribute ``weight_names``; datasets at
    ``<layer>/<layer>/kernel:0`` when the weight name is ``<layer>/kernel:0``.
    """
    with h5py.File(path, "w") as h5_file:
        h5_file.attrs["keras_version"] = b"2.2.4"
        h5_file.attrs["backend"] = b"tensorflow"
        root = h5_file.create_group("model_weights") if full_model else h5_file
        if full_model:
            h5_file.attrs["model_config"] = b"{}"
        root.attrs["layer_names"] = np.array([name.encode("utf8") for name in layers])
        for layer_name, weights in layers.items():
            group = root.create_group(layer_name)
            group.attrs["weight_names"] = np.array([name.encode("utf8") for name, _ in weights])
            for weight_name, value in weights:
                group.create_dataset(weight_name, data=value)


def conv_weights(layer_name, kernel, bias):
    return [(f"{layer_name}/kernel:0", kernel), (f"{layer_name}/bias:0", bias)]
