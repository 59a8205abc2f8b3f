"""README.md and the pages of docs/ stay true: every ```python block runs as written, every ``keras-fer ...``
command of a ```bash block is run by a test, every relative link leads to a file (and heading) that exists, README
stays a front page, and the MkDocs site builds with ``--strict``."""

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 450


def _name(page):
    return page.relative_to(ROOT).as_posix()


def _python_blocks(page):
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


# (id, page, source) for every ```python block, in page order: README's first, then docs/*.md by name.
BLOCKS = [(f"{_name(page)}[{index}]", page, source)
          for page in PAGES for index, source in enumerate(_python_blocks(page))]


def test_pages_have_python_examples():
    assert _python_blocks(README), "README.md has no ```python examples"
    assert any(_python_blocks(page) for page in PAGES if page != README), "docs/*.md have no ```python examples"


@pytest.mark.parametrize("block_id, page, source", BLOCKS, ids=[block_id for block_id, _, _ in BLOCKS])
def test_example_runs(block_id, page, source, tmp_path, monkeypatch):
    # Each block runs on its own, in a fresh namespace and a scratch folder (examples write files) where the
    # repository's test data is at the same relative path as in a checkout.
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "fixtures").symlink_to(ROOT / "tests" / "fixtures")
    monkeypatch.chdir(tmp_path)
    exec(compile(source, f"{block_id} (python block)", "exec"), {"__name__": "readme", "tmp_path": tmp_path})


def test_every_command_is_exercised_by_a_test():
    """Each ``keras-fer ...`` line of the pages' ```bash blocks stands verbatim in a test that runs it."""
    commands = []
    for page in PAGES:
        shell_blocks = re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
        commands += [(_name(page), line.strip()) for block in shell_blocks for line in block.splitlines()
                     if line.strip().startswith("keras-fer ")]
    assert commands
    tests_text = "\n".join(path.read_text(encoding="utf-8") for path in ROOT.glob("tests/**/*.py"))
    missing = [(page, command) for page, command in commands if command not in tests_text]
    assert not missing, f"commands no test runs: {missing}"


def test_readme_is_a_front_page():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move reference sections into docs/"


def test_readme_and_the_docs_home_link_every_page():
    for home, prefix in ((README, "docs/"), (DOCS / "index.md", "")):
        targets = {target.split("#")[0] for target in _links(home)}
        unlinked = [page.name for page in DOCS.glob("*.md")
                    if page != home and f"{prefix}{page.name}" not in targets]
        assert not unlinked, f"{_name(home)} does not link {unlinked}"


def _without_fenced_code(text):
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _links(page):
    """Targets of the page's Markdown links and images, outside code blocks and code spans."""
    text = re.sub(r"`[^`\n]*`", "", _without_fenced_code(page.read_text(encoding="utf-8")))
    return re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)


def _anchors(page):
    """The ids a heading of the page gets, as GitHub and as MkDocs (Python-Markdown's toc) make them."""
    import unicodedata

    text = _without_fenced_code(page.read_text(encoding="utf-8"))
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*$", text, flags=re.M):
        heading = heading.replace("`", "")
        anchors.add(re.sub(r" ", "-", re.sub(r"[^\w\- ]", "", heading.lower())))  # GitHub
        ascii_heading = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
        anchors.add(re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", ascii_heading).strip().lower()))  # MkDocs
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=[_name(page) for page in PAGES])
def test_relative_links_lead_to_files_that_exist(page):
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I):  # http:, https:, mailto:, ...
            continue
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_file():
            broken.append(f"{target} (no file {file})")
        elif fragment and file.suffix == ".md" and fragment not in _anchors(file):
            broken.append(f"{target} (no heading #{fragment} in {_name(file)})")
    assert not broken, f"{_name(page)}: broken links {broken}"


def test_docs_site_builds_strictly(tmp_path):
    """``mkdocs build --strict``: every page in the nav, no link to a missing page, file or heading."""
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                             str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()
