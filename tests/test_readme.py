"""The README's Python examples run as written (doctest)."""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_readme_python_examples(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "the README has no Python example"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    cwd = Path.cwd()
    os.chdir(tmp_path)  # the example saves a stack in the working directory
    try:
        for n, block in enumerate(blocks):
            test = parser.get_doctest(block, {}, f"README block {n}", str(README), 0)
            runner.run(test)
    finally:
        os.chdir(cwd)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0 and results.failed == 0
