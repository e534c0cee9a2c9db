"""The docs keep their promises: every relative link lands, every figure quoted from bench/results
is the one measured there, and the README stays a five-minute read.

A figure quoted from a benchmark carries its source in an HTML comment right after it (GitHub
does not show it):

    the first import took 19.0 s <!-- bench/results/import_accounts.json: first_import.seconds -->

After the colon, a path into the JSON: ``a.b`` for keys, ``[2]`` for a list position, and
``[config=lean]`` for the one list item whose ``config`` is ``lean``. The number before the
comment (its unit may sit between them) must be the JSON value rounded to the decimals shown.
docs/development.md says the same to writers. Plain stdlib and pytest: no conftest, no network.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
README_LIMIT = 12_500

# --- reading Markdown -----------------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def markdown_files(root: Path) -> list[Path]:
    """README.md and every page in docs/, as they are at run time."""
    readme = root / "README.md"
    return ([readme] if readme.exists() else []) + sorted((root / "docs").glob("*.md"))


def without_code(text: str) -> list[str]:
    """The lines of ``text`` with fenced blocks and code spans blanked (line numbers kept)."""
    lines, fence = [], ""
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            lines.append("")
        elif opened:
            fence = opened.group(1)
            lines.append("")
        else:
            lines.append(_CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line))
    return lines


# --- headings and GitHub's anchors ----------------------------------------------------------------

# github-slugger drops these Unicode categories (keeping letters, marks, digits and "_"); a space
# or "-" becomes "-". Cyrillic is letters, so "Додати лічильник" is "додати-лічильник".
_DROPPED = {"No", "Pe", "Pf", "Pi", "Ps", "Po", "Pd", "Sc", "Sk", "Sm", "So", "Cc", "Co", "Cf", "Cn"}
_DROPPED |= {"Zs", "Zl", "Zp"}
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_HTML_ANCHOR = re.compile(r"""<a\s[^>]*?(?:name|id)\s*=\s*["']([^"']+)["']""", re.I)


def rendered(heading: str) -> str:
    """The text GitHub shows for a heading's Markdown: code kept, links and markup gone."""
    spans: list[str] = []

    def keep(match: re.Match[str]) -> str:
        spans.append(match.group(2).strip())
        return f"\x00{len(spans) - 1}\x00"

    text = _CODE_SPAN.sub(keep, heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"(?<![\w\\])_(\S(?:.*?\S)?)_(?!\w)", r"\1", text)
    text = text.replace("*", "").replace("\\", "")
    return re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m.group(1))], text).strip()


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text (before numbering repeats)."""
    kept = []
    for char in rendered(heading).lower():
        if char in " -":
            kept.append("-")
        elif unicodedata.category(char) not in _DROPPED or char.isalpha():
            kept.append(char)
    return "".join(kept)


def anchors(text: str) -> set[str]:
    """Every anchor a page offers: its headings' slugs (repeats numbered) and HTML anchors."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    lines = without_code(text)
    raw = text.splitlines()
    for number, line in enumerate(lines):
        heading = None
        if _ATX.match(line):
            heading = raw[number].strip().lstrip("#").strip()
            heading = re.sub(r"[ \t]+#+$", "", heading)
        elif (
            _SETEXT.match(line)
            and number > 0
            and lines[number - 1].strip()
            and not re.match(r"^ {0,3}([-*+>|]|\d+[.)])", lines[number - 1])
        ):
            heading = raw[number - 1].strip()
        if heading is not None:
            base = slug(heading)
            repeat = counts.get(base, 0)
            counts[base] = repeat + 1
            found.add(base if repeat == 0 else f"{base}-{repeat}")
        found.update(_HTML_ANCHOR.findall(line))
    return found


# --- links ----------------------------------------------------------------------------------------

_INLINE_LINK = re.compile(r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+[\"'(][^)]*)?\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)
_SCHEME = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")


@dataclass(frozen=True)
class Problem:
    page: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.message}"


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every link outside code."""
    found = []
    for number, line in enumerate(without_code(text), start=1):
        targets = [m.group(1) for m in _INLINE_LINK.finditer(line)]
        targets += [m.group(1) for m in _REFERENCE.finditer(line)]
        targets += _HTML_LINK.findall(line)
        found += [(number, target.strip("<>")) for target in targets]
    return found


def broken_links(root: Path, page: Path) -> list[Problem]:
    """Relative links of ``page`` whose file is missing or whose #anchor names no heading there."""
    text = page.read_text(encoding="utf-8")
    name = page.relative_to(root).as_posix()
    problems = []
    for number, target in links(text):
        if _SCHEME.match(target):
            continue  # a web address (https:, mailto:): not ours to check offline
        path_part, _, anchor = target.partition("#")
        path_part, anchor = unquote(path_part), unquote(anchor)
        if path_part:
            base = root if path_part.startswith("/") else page.parent
            resolved = (base / path_part.lstrip("/")).resolve()
            if not resolved.is_relative_to(root.resolve()):
                problems.append(Problem(name, number, f"{target!r} leaves the repository"))
                continue
            if not resolved.exists():
                problems.append(Problem(name, number, f"{target!r}: no such file"))
                continue
        else:
            resolved = page
        if (
            anchor
            and resolved.suffix == ".md"
            and resolved.is_file()
            and anchor not in anchors(resolved.read_text(encoding="utf-8"))
        ):
            problems.append(Problem(name, number, f"{target!r}: no heading with anchor #{anchor}"))
    return problems


# --- figures quoted from bench/results ------------------------------------------------------------

_TAG = re.compile(r"<!--\s*(bench/results/[^\s:]+\.json)\s*:\s*(.*?)\s*-->")
_ANY_TAG = re.compile(r"<!--(?:(?!-->).)*?\.json\s*:(?:(?!-->).)*-->")
_FIGURE = re.compile(
    r"(?<![\w.])(?P<number>[-+]?\d(?:[\d,]*\d)?(?:\.\d+)?)(?P<unit>[^\d<>|]{0,40}?)\s*"
    r"<!--\s*(?P<file>bench/results/[^\s:]+\.json)\s*:\s*(?P<path>.*?)\s*-->"
)
_STEP = re.compile(r"\[([^\]]*)\]|\.?([^.\[\]]+)")


class PathError(LookupError):
    pass


def _same(value: Any, wanted: str) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return Decimal(str(value)) == Decimal(wanted)
        except InvalidOperation:
            return False
    return str(value) == wanted


def lookup(data: Any, path: str) -> Any:
    """The value at ``path`` (``a.b``, ``[2]``, ``[key=value]``) inside parsed JSON."""
    position = 0
    for step in _STEP.finditer(path):
        if step.start() != position:
            raise PathError(f"cannot read {path!r} at {path[position:]!r}")
        position = step.end()
        bracket, key = step.group(1), step.group(2)
        if key is not None:
            key = key.strip()
            if not isinstance(data, dict) or key not in data:
                raise PathError(f"no key {key!r}")
            data = data[key]
        elif bracket.strip().isdigit():
            index = int(bracket)
            if not isinstance(data, list) or index >= len(data):
                raise PathError(f"no item [{index}]")
            data = data[index]
        elif "=" in bracket:
            field, wanted = (part.strip() for part in bracket.split("=", 1))
            items = [
                item
                for item in (data if isinstance(data, list) else [])
                if isinstance(item, dict) and field in item and _same(item[field], wanted)
            ]
            if len(items) != 1:
                raise PathError(f"{len(items)} items with {field} = {wanted!r}, not one")
            data = items[0]
        else:
            raise PathError(f"cannot read [{bracket}]")
    if position != len(path) or not path:
        raise PathError(f"cannot read {path!r}")
    return data


def figure_matches(quoted: str, measured: Any) -> bool:
    """Whether ``quoted`` ("19.0", "1,144") is ``measured`` rounded to the decimals shown."""
    if not isinstance(measured, int | float) or isinstance(measured, bool):
        return False
    number = Decimal(quoted.replace(",", ""))
    decimals = len(quoted.partition(".")[2])
    return abs(Decimal(str(measured)) - number) <= Decimal(5) / 10 ** (decimals + 1)


def wrong_figures(root: Path, page: Path) -> tuple[list[Problem], int]:
    """Figures of ``page`` that are not their source's value, and how many figures were checked."""
    name = page.relative_to(root).as_posix()
    problems, checked = [], 0
    loaded: dict[str, Any] = {}
    for number, line in enumerate(without_code(page.read_text(encoding="utf-8")), start=1):
        figures = list(_FIGURE.finditer(line))
        tagged = {m.start("file") for m in figures}
        for tag in _ANY_TAG.finditer(line):
            if not (proper := _TAG.search(tag.group(0))):
                problems.append(Problem(name, number, f"malformed figure source {tag.group(0)!r}"))
            elif tag.start() + proper.start(1) not in tagged:
                problems.append(Problem(name, number, f"no number before {tag.group(0)!r}"))
        for figure in figures:
            checked += 1
            source, path = figure.group("file"), figure.group("path")
            if source not in loaded:
                try:
                    loaded[source] = json.loads((root / source).read_text(encoding="utf-8"))
                except (OSError, ValueError) as error:
                    problems.append(Problem(name, number, f"{source}: {error}"))
                    loaded[source] = None
            if loaded[source] is None:
                continue
            try:
                measured = lookup(loaded[source], path)
            except PathError as error:
                problems.append(Problem(name, number, f"{source}: {path}: {error}"))
                continue
            if not figure_matches(figure.group("number"), measured):
                problems.append(
                    Problem(
                        name,
                        number,
                        f"quotes {figure.group('number')} but {source}: {path} is {measured!r}",
                    )
                )
    return problems, checked


# --- the repository's docs ------------------------------------------------------------------------

PAGES = markdown_files(ROOT)


def test_the_readme_is_a_five_minute_read() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; move reference to docs/ (limit {README_LIMIT})"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_lands(page: Path) -> None:
    problems = broken_links(ROOT, page)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_quoted_figure_is_the_measured_one(page: Path) -> None:
    problems, _ = wrong_figures(ROOT, page)
    assert not problems, "\n".join(map(str, problems))


def test_the_docs_quote_figures_through_the_check() -> None:
    checked = sum(wrong_figures(ROOT, page)[1] for page in PAGES)
    assert checked > 0, "no figure in README.md or docs/ carries its bench/results source"


# --- the checks themselves ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Reliability and security", "reliability-and-security"),
        ("Додати лічильник", "додати-лічильник"),
        ("«Мої лічильники» і «Історія показань»", "мої-лічильники-і-історія-показань"),
        ("The `otke` command: import, export", "the-otke-command-import-export"),
        ("Scale-out (nginx)", "scale-out-nginx"),
        ("What's `reading_form`?", "whats-reading_form"),
        ("Two  spaces — and a dash", "two--spaces--and-a-dash"),
        ("[Linked](other.md) *emphasis* and _more_", "linked-emphasis-and-more"),
        ("Ґанок Їжак Єнот 2026", "ґанок-їжак-єнот-2026"),
    ],
)
def test_anchors_follow_githubs_rules(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_repeated_headings_are_numbered_and_code_is_not_a_heading() -> None:
    text = '# Tests\n\n## Tests\n\n```sh\n# Tests\n```\n\nPeriod\n------\n\n<a id="kept"></a>\n'
    assert anchors(text) == {"tests", "tests-1", "period", "kept"}


def _project(tmp_path: Path, readme: str, **pages: str) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "results" / "import.json").write_text(
        json.dumps(
            {
                "first_import": {"seconds": 18.986, "rows": 100000},
                "runs": [{"config": "lean", "p50_ms": 22.858}, {"config": "stock", "p50_ms": 87.27}],
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    for name, text in pages.items():
        (tmp_path / "docs" / f"{name}.md").write_text(text, encoding="utf-8")
    return tmp_path


def _link_problems(root: Path) -> list[str]:
    return [str(problem) for page in markdown_files(root) for problem in broken_links(root, page)]


def _figure_problems(root: Path) -> list[str]:
    return [str(problem) for page in markdown_files(root) for problem in wrong_figures(root, page)[0]]


def test_links_that_land_pass(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        "# Hi\n\n[ops](docs/operations.md#додати-лічильник), [top](#hi), [web](https://example.org/x),\n"
        "[cfg][c], [encoded](docs/operations.md#%D0%B4%D0%BE%D0%B4%D0%B0%D1%82%D0%B8-%D0%BB%D1%96%D1%87"
        "%D0%B8%D0%BB%D1%8C%D0%BD%D0%B8%D0%BA), [dir](docs/)\n\n[c]: docs/operations.md\n",
        operations="# Operations\n\n## Додати лічильник\n\nBack to the [README](../README.md#hi).\n",
    )
    assert _link_problems(root) == []


def test_a_link_to_a_missing_file_fails(tmp_path: Path) -> None:
    root = _project(
        tmp_path, "See [the guide](docs/guide.md) and [ops](docs/operations.md).\n", operations="x\n"
    )
    assert _link_problems(root) == ["README.md:1: 'docs/guide.md': no such file"]


def test_a_link_to_a_missing_heading_fails(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        "# Top\n",
        operations="# Operations\n\n[a](../README.md#bottom) [b](#операції) [c](#operations)\n",
    )
    assert _link_problems(root) == [
        "docs/operations.md:3: '../README.md#bottom': no heading with anchor #bottom",
        "docs/operations.md:3: '#операції': no heading with anchor #операції",
    ]


def test_links_in_code_are_not_links_and_links_out_of_the_repository_fail(tmp_path: Path) -> None:
    root = _project(tmp_path, "`[a](missing.md)`\n\n```md\n[b](missing.md)\n```\n\n[c](../../outside.md)\n")
    assert _link_problems(root) == ["README.md:7: '../../outside.md' leaves the repository"]


def test_figures_that_are_the_measured_ones_pass(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        "First import 19.0 s <!-- bench/results/import.json: first_import.seconds -->, "
        "19 s <!-- bench/results/import.json: first_import.seconds -->, "
        "100,000 rows <!-- bench/results/import.json: first_import.rows -->.\n\n"
        "| stock | 87.3 ms <!-- bench/results/import.json: runs[config=stock].p50_ms --> |\n"
        "| lean | 22.86 <!-- bench/results/import.json: runs[0].p50_ms --> |\n"
        "`9.9 s <!-- bench/results/import.json: nothing -->` is an example in code.\n",
    )
    assert _figure_problems(root) == []
    assert wrong_figures(root, root / "README.md")[1] == 5


def test_a_wrong_figure_fails(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        "# Import\n",
        operations="Took 18.0 s <!-- bench/results/import.json: first_import.seconds -->; "
        "lean p50 22.9 ms <!-- bench/results/import.json: runs[config=lean].p50_ms -->.\n",
    )
    assert _figure_problems(root) == [
        "docs/operations.md:1: quotes 18.0 but bench/results/import.json: first_import.seconds is 18.986"
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            "19.0 s <!-- bench/results/import.json: first_import.minutes -->",
            "bench/results/import.json: first_import.minutes: no key 'minutes'",
        ),
        (
            "22.9 <!-- bench/results/import.json: runs[config=rapid].p50_ms -->",
            "bench/results/import.json: runs[config=rapid].p50_ms: 0 items with config = 'rapid', not one",
        ),
        (
            "19.0 s <!-- bench/results/gone.json: first_import.seconds -->",
            "bench/results/gone.json: [Errno 2] No such file or directory",
        ),
        (
            "fast <!-- bench/results/import.json: first_import.seconds -->",
            "no number before '<!-- bench/results/import.json: first_import.seconds -->'",
        ),
        (
            "19.0 s <!-- bench/result/import.json: first_import.seconds -->",
            "malformed figure source '<!-- bench/result/import.json: first_import.seconds -->'",
        ),
    ],
)
def test_a_figure_whose_source_cannot_be_read_fails(tmp_path: Path, line: str, problem: str) -> None:
    root = _project(tmp_path, f"{line}\n")
    problems = _figure_problems(root)
    assert len(problems) == 1
    assert problems[0].startswith(f"README.md:1: {problem}")
