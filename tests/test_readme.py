"""Every ```python block of README.md runs as written (README examples stay true)."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_python_examples():
    assert BLOCKS, "README.md has no ```python examples"


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    # Run in a scratch folder (examples write files) where the repository's test data is at
    # the same relative path as in a checkout.
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "fixtures").symlink_to(README.parent / "tests" / "fixtures")
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README.md[python block {index}]", "exec"), {"__name__": "readme", "tmp_path": tmp_path})


def test_every_readme_command_is_exercised_by_a_test():
    """Each ``keras-fer ...`` line of README's bash blocks stands verbatim in a test that runs it."""
    shell_blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    commands = [line.strip() for block in shell_blocks for line in block.splitlines()
                if line.strip().startswith("keras-fer ")]
    assert commands
    tests_text = "\n".join(path.read_text(encoding="utf-8") for path in README.parent.glob("tests/**/*.py"))
    missing = [command for command in commands if command not in tests_text]
    assert not missing, f"README commands no test runs: {missing}"
