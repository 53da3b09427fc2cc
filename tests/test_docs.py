"""The documentation holds together: every relative link in the README and docs/ resolves (file and
anchor), the README stays a front page that links every docs page, and the package cites nothing
outside the repository."""

import glob
import os
import re

import pytest

from helpers import REPO_DIR, SRC_DIR

README = os.path.join(REPO_DIR, "README.md")
README_MAX_LINES = 250
DOC_FILES = sorted(
    [README, os.path.join(REPO_DIR, "data", "README.md"), os.path.join(REPO_DIR, "models", "README.md")]
    + glob.glob(os.path.join(REPO_DIR, "docs", "*.md"))
)
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+).+?\1")
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HTML_LINK = re.compile(r"<(?:a|img)\s[^>]*?(?:href|src)=\"([^\"]+)\"", re.IGNORECASE)
HTML_ANCHOR = re.compile(r"<a\s[^>]*?(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


def prose_lines(path):
    """The lines of a Markdown file outside fenced code blocks."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    fence, kept = None, []
    for line in lines:
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)[0] * len(opening.group(1))
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            kept.append(line)
    return kept


def links(path):
    """Every link target of a Markdown file (inline, reference-style and HTML), in order."""
    found = []
    for line in prose_lines(path):
        prose = INLINE_CODE.sub("", line)
        found += INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose) + HTML_LINK.findall(prose)
    return found


def slug(heading):
    """The anchor GitHub gives a heading: markup dropped, lower case, punctuation removed, spaces
    to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path):
    """The anchors a Markdown file offers: its headings' slugs (repeats numbered -1, -2, ... as on
    GitHub) and explicit HTML ids."""
    seen, found = {}, set()
    for line in prose_lines(path):
        found.update(HTML_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(1))
            found.add(f"{base}-{seen[base]}" if base in seen else base)
            seen[base] = seen.get(base, 0) + 1
    return found


def link_problem(source, target):
    """Why ``target``, a link in the file ``source``, does not resolve (None when it does)."""
    if EXTERNAL.match(target):
        return None
    file_part, _, anchor = target.partition("#")
    path = os.path.normpath(os.path.join(os.path.dirname(source), file_part)) if file_part else source
    if not os.path.exists(path):
        return f"{os.path.relpath(path, REPO_DIR)} does not exist"
    if anchor and path.endswith(".md") and anchor not in anchors(path):
        return f"{os.path.relpath(path, REPO_DIR)} has no heading with the anchor #{anchor}"
    return None


@pytest.mark.parametrize("source", DOC_FILES, ids=[os.path.relpath(p, REPO_DIR) for p in DOC_FILES])
def test_relative_links_resolve(source):
    problems = {target: link_problem(source, target) for target in links(source)}
    assert {target: problem for target, problem in problems.items() if problem} == {}


def test_link_checker_catches_missing_files_and_anchors(tmp_path):
    """The checker itself: a missing file, a missing anchor and a good link of each kind."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# A page\n\n## The `--crop` flag (Human3.6M)\n\n## Notes\n## Notes\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "[ok](docs/page.md#the---crop-flag-human36m) [dup](docs/page.md#notes-1) [web](https://example.org/x)\n"
        "[gone](docs/missing.md) [bad anchor](docs/page.md#nowhere) ![pic](docs/page.md)\n"
        "```\n[in code](docs/not-checked.md)\n```\n`[inline](docs/not-checked-either.md)`\n"
    )
    problems = {t: link_problem(str(readme), t) for t in links(str(readme))}
    assert set(problems) == {
        "docs/page.md#the---crop-flag-human36m",
        "docs/page.md#notes-1",
        "https://example.org/x",
        "docs/missing.md",
        "docs/page.md#nowhere",
        "docs/page.md",
    }
    assert [t for t, p in problems.items() if p] == ["docs/missing.md", "docs/page.md#nowhere"]


def test_readme_is_a_front_page():
    with open(README, encoding="utf-8") as f:
        count = len(f.read().splitlines())
    assert count <= README_MAX_LINES, f"README.md has {count} lines, over {README_MAX_LINES}: move detail to docs/"


def test_readme_links_every_docs_page():
    """Each page of docs/ is reachable from the front page (files starting with _ are drafts
    waiting to be merged into a page)."""
    linked = {os.path.normpath(os.path.join(REPO_DIR, t.partition("#")[0])) for t in links(README)}
    pages = [p for p in glob.glob(os.path.join(REPO_DIR, "docs", "*.md")) if not os.path.basename(p).startswith("_")]
    assert sorted(os.path.relpath(p, REPO_DIR) for p in pages if p not in linked) == []


def test_package_cites_nothing_outside_the_repository():
    """The specs and golden files beside the repository are not shipped: the package cites docs/."""
    offenders = []
    for root, dirs, files in os.walk(SRC_DIR):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.endswith(".egg-info")]
        for name in files:
            path = os.path.join(root, name)
            with open(path, encoding="utf-8", errors="ignore") as f:
                text = f.read()
            offenders += [
                f"{os.path.relpath(path, REPO_DIR)}:{text[: m.start()].count(chr(10)) + 1}"
                for m in re.finditer(r"shared/(?:spec|golden)", text)
            ]
    assert offenders == []
