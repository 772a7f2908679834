"""Every relative link in the repository's Markdown points at a file or folder that git tracks.

A link to a file that exists only on the machine that wrote it (a run output that ``.gitignore``
keeps out of git) reads fine there and is broken on every fresh clone; the check therefore asks
git which files are tracked rather than looking at the disk.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: ``[text](target)`` and ``![alt](target)``; the target stops at whitespace or ``)``.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
#: Fenced code blocks: their brackets are code, not links.
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def _tracked() -> set[str] | None:
    """Paths git tracks (files and every folder above them), or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    files = {p for p in out.decode().split("\0") if p}
    folders = {str(parent) for p in files for parent in Path(p).parents if str(parent) != "."}
    return files | folders


TRACKED = _tracked()
DOCS = sorted(p for p in (TRACKED or ()) if p.endswith(".md") and (ROOT / p).is_file())


def relative_links(text: str) -> list[str]:
    """The relative link targets of a Markdown text, without anchors, outside code fences."""
    out = []
    for target in LINK.findall(FENCE.sub("", text)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # http:, https:, mailto:, ... and anchors within the page
        path = unquote(target.split("#", 1)[0])
        if path:
            out.append(path)
    return out


def test_link_parser() -> None:
    text = (
        "[a](results/x.md) ![p](plots/a.png) [w](https://e.org/y) [s](#section)\n"
        '[t](docs/b.md#part) [q](c.md "title")\n```\n[code](not/a/link.md)\n```\n'
    )
    assert relative_links(text) == ["results/x.md", "plots/a.png", "docs/b.md", "c.md"]


@pytest.mark.skipif(TRACKED is None, reason="not a git checkout")
@pytest.mark.parametrize("doc", DOCS)
def test_relative_links_are_tracked(doc: str) -> None:
    base = Path(doc).parent
    missing = []
    for target in relative_links((ROOT / doc).read_text(encoding="utf-8")):
        resolved = (ROOT / base / target).resolve()
        inside = resolved.is_relative_to(ROOT)
        if not inside or resolved.relative_to(ROOT).as_posix() not in TRACKED:
            missing.append(target)  # outside the repository, or not committed
    assert not missing, (
        f"{doc} links to paths git does not track (broken on a fresh clone): {missing}; commit "
        "them (check .gitignore) or fix the links"
    )
