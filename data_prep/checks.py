"""Argument checks shared by data_prep and keras_fer: one wording for every error.

Every check raises ``ValueError`` that names the argument and the value it
received, in one form: ``"<where>: `<name>` must be ...; received <name>=<value>"``
(``<where>``, the function or layer, is left out when not given).

Example:

>>> from data_prep.checks import check_int
>>> check_int(3, "num_frames", minimum=1)
3
>>> check_int(True, "num_frames", minimum=1, where="sample")
Traceback (most recent call last):
...
ValueError: sample: `num_frames` must be an integer >= 1; received num_frames=True
"""

__all__ = ["check_choice", "check_int", "check_rate", "fail"]


def fail(name, requirement, value, where=None):
    """Raise the one ``ValueError`` form: ``"[where: ]`name` must be <requirement>; received name=value"``."""
    prefix = f"{where}: " if where else ""
    raise ValueError(f"{prefix}`{name}` must be {requirement}; received {name}={value!r}")


def check_int(value, name, minimum=None, maximum=None, where=None):
    """``value`` if it is an integer (not a bool) in ``[minimum, maximum]`` (either bound may be None).

    NumPy integers are accepted and returned as ``int``.
    """
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        ok = False
    else:
        ok = (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        if minimum is not None and maximum is not None:
            requirement = f"an integer in [{minimum}, {maximum}]"
        elif minimum is not None:
            requirement = f"an integer >= {minimum}"
        elif maximum is not None:
            requirement = f"an integer <= {maximum}"
        else:
            requirement = "an integer"
        fail(name, requirement, value, where)
    return int(value)


def check_choice(value, choices, name, where=None):
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        fail(name, f"one of {tuple(choices)}", value, where)
    return value


def check_rate(value, name, where=None):
    """``value`` as a float if it is a number in [0, 1) (a dropout rate); bools are refused."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        fail(name, "a number in [0, 1)", value, where)
    return float(value)
