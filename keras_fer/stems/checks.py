"""Argument checks shared by the stem builders."""


def check_input_shape(input_shape, min_sizes, channels, function_name):
    """Validate ``input_shape`` = (*sizes, channels) of a stem; ``None`` sizes are allowed.

    Args:
        input_shape: the user's shape, without the batch axis.
        min_sizes: smallest allowed size per leading axis, e.g. ``(32, 32)`` for
            (H, W) or ``(8, 16, 16)`` for (T, H, W).
        channels: the required last axis.
        function_name: quoted in the error.

    Returns:
        ``input_shape`` as a tuple.
    """
    expected = ", ".join(f"size>={size}" for size in min_sizes)
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != len(min_sizes) + 1:
        raise ValueError(f"{function_name}: `input_shape` must be ({expected}, {channels}); "
                         f"received input_shape={input_shape!r}")
    *sizes, depth = input_shape
    if depth != channels:
        raise ValueError(f"{function_name}: `input_shape` must have {channels} channels last; "
                         f"received input_shape={input_shape!r}")
    for size, min_size in zip(sizes, min_sizes):
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < min_size):
            raise ValueError(
                f"{function_name}: `input_shape` must be ({expected}, {channels}) with None or integer sizes; "
                f"received input_shape={input_shape!r}"
            )
    return tuple(input_shape)

