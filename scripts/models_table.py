"""Print the model table of docs/models.md from the registry: `python scripts/models_table.py`."""

from keras_fer.models import get_spec, list_models


def models_table():
    lines = ["| model | reproduces |", "|---|---|"]
    for name in list_models():
        lines.append(f"| `{name}` | {get_spec(name).reproduces} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(models_table())
