"""Every relative link in the Markdown documentation resolves.

The README, ``docs/``, the per-method ``configs/**/README.md`` and the
benchmark records' ``benchmarks/**/README.md`` link to each other and to
configs, tools and records. A file moved or renamed, or a heading reworded,
breaks such a link silently; here it fails. ``http(s)``/``mailto`` links are
not followed. A ``#anchor`` must be a heading of the target, by GitHub's
slug rules (lowercase, punctuation dropped, spaces to hyphens, ``-1``,
``-2`` ... for repeated headings).
"""
import glob
import os.path as osp
import re
from urllib.parse import unquote

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PATTERNS = ('README.md', 'docs/**/*.md', 'configs/**/README.md',
            'benchmarks/**/README.md')
FENCE = re.compile(r'^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$', re.M | re.S)
CODE_SPAN = re.compile(r'(`+).+?\1', re.S)
# [text](target) and ![alt](target); the target ends at a space (a title
# follows) or at the closing parenthesis
LINK = re.compile(r'!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
HEADING = re.compile(r'^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$', re.M)
EXTERNAL = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*:')  # http:, mailto:, ...


def markdown_files():
    files = set()
    for pattern in PATTERNS:
        files.update(
            osp.relpath(f, REPO)
            for f in glob.glob(osp.join(REPO, pattern), recursive=True))
    return sorted(files)


def _prose(text):
    """The text without fenced code blocks and code spans, whose brackets
    are code, not links."""
    return CODE_SPAN.sub('', FENCE.sub('', text))


def slug(heading):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # link text
    text = re.sub(r'<[^>]+>', '', text).strip().lower()  # inline HTML
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path):
    """Every heading anchor of a Markdown file, repeats numbered as GitHub
    numbers them."""
    with open(path, encoding='utf-8') as f:
        text = FENCE.sub('', f.read())
    found, seen = set(), {}
    for heading in HEADING.findall(text):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f'{base}-{count}')
    return found


def broken_links(md_file):
    """``(target, why)`` for each relative link of ``md_file`` (relative to
    the repository) that does not resolve."""
    path = osp.join(REPO, md_file)
    with open(path, encoding='utf-8') as f:
        text = _prose(f.read())
    broken = []
    for target in LINK.findall(text):
        if EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition('#')
        dest = (
            path if not file_part else osp.normpath(
                osp.join(osp.dirname(path), unquote(file_part))))
        if not osp.exists(dest):
            broken.append((target, 'no such file'))
        elif anchor and dest.endswith('.md') and anchor not in anchors(dest):
            broken.append((target, f'no heading #{anchor} in '
                           f'{osp.relpath(dest, REPO)}'))
    return broken


@pytest.mark.parametrize('md_file', markdown_files())
def test_relative_links_resolve(md_file):
    assert broken_links(md_file) == []


def test_readme_links_every_docs_page():
    with open(osp.join(REPO, 'README.md'), encoding='utf-8') as f:
        linked = {
            osp.normpath(t.partition('#')[0])
            for t in LINK.findall(_prose(f.read()))
        }
    pages = {
        osp.relpath(p, REPO)
        for p in glob.glob(
            osp.join(REPO, 'docs', '**', '*.md'), recursive=True)
    }
    assert pages, 'no docs pages found'
    assert sorted(pages - linked) == []


@pytest.mark.parametrize('heading, expected', [
    ('Distil your own pair on COCO', 'distil-your-own-pair-on-coco'),
    ('The 3-seed comparison (val)', 'the-3-seed-comparison-val'),
    ('`RoIDistiller`: how it works', 'roidistiller-how-it-works'),
    ('Known fixes for torch 2.13 + mmengine 0.10.7',
     'known-fixes-for-torch-213--mmengine-0107'),
])
def test_slug_follows_github(heading, expected):
    assert slug(heading) == expected
