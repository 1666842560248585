"""The README is a landing page; every link in it and in docs/ leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
MAX_README_BYTES = 10_000


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    out = set()
    for line in page.read_text().splitlines():
        if m := re.match(r"^#{1,6} (.*)$", line):
            out.add(re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-"))
    return out


def broken_links(page: Path) -> list[str]:
    bad = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+://|^mailto:", target):
            continue  # the web is not checked here (no network)
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    return bad


def test_every_relative_link_resolves() -> None:
    bad = [b for page in PAGES for b in broken_links(page)]
    assert not bad, "\n".join(bad)


def test_the_link_checker_catches_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    (tmp_path / "there.md").write_text("# A heading\n")
    page.write_text("[ok](there.md) [ok](there.md#a-heading) [no](gone.md) [no](there.md#nope)")
    global ROOT
    root, ROOT = ROOT, tmp_path
    try:
        assert [b.split(": ", 1)[1] for b in broken_links(page)] == [
            "gone.md (no such file)",
            "there.md#nope (no such heading)",
        ]
    finally:
        ROOT = root


def test_the_readme_is_a_landing_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) < MAX_README_BYTES
    assert "make demo" in readme and "make test" in readme
    linked = set(LINK.findall(readme))
    for page in ("configuration", "operations", "micromanager", "protocol", "training", "speed"):
        assert f"docs/{page}.md" in linked, page
