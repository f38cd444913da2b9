#!/usr/bin/env python3
"""Build lossgap's bundled example corpus (src/lossgap/data/example/) from Debian packages. For maintainers.

Needs Debian's `apt-get download` and `dpkg -x` (no root: packages are unpacked into a temporary folder,
never installed) and the PyPI packages `rdata` (Jane Austen's novels are stored as R data) and `pylatexenc`
(LaTeX to prose for the scientific papers): `pip install rdata pylatexenc`. Output is deterministic for
given package versions: documents are chosen and ordered by a seeded random generator.

    python scripts/build_example_corpus.py [--out src/lossgap/data/example] [--chars-per-domain 150000]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import random
import re
import shutil
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger("build_example_corpus")

SEED = 20250101
DOMAINS = ("books", "encyclopedia", "science", "python", "html", "latex")


@dataclass(frozen=True)
class Doc:
    doc_id: str
    domain: str
    text: str
    source: str  # "package version: path, part"
    file_key: str  # key of the file entry in MANIFEST.json


@dataclass(frozen=True)
class SourceFile:
    key: str
    domain: str
    package: str
    version: str
    path: str  # inside the package
    licence: str  # SPDX-like identifier, checked by hand against the package's copyright file
    copyright: str  # the notice, as the package states it
    licence_evidence: str  # where the licence is stated


# -- fetching --------------------------------------------------------------------------------------------
def fetch(package: str, work: Path) -> tuple[Path, str]:
    """Download and unpack one Debian package; return its root folder and version."""
    debs = work / "debs"
    debs.mkdir(exist_ok=True)
    subprocess.run(["apt-get", "download", package], cwd=debs, check=True, capture_output=True)
    deb = sorted(debs.glob(f"{package}_*.deb"))[-1]
    version = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    root = work / "x" / package
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root, version


def read_maybe_gz(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8")


def take(docs: list[Doc], chars: int, rng: random.Random) -> list[Doc]:
    """A seeded random selection of whole documents, stopping once `chars` characters are reached."""
    pool = list(docs)
    rng.shuffle(pool)
    out, total = [], 0
    for doc in pool:
        if total >= chars:
            break
        out.append(doc)
        total += len(doc.text)
    return out


# -- books: Jane Austen ----------------------------------------------------------------------------------
_CHAPTER = re.compile(r"^(CHAPTER|Chapter) [IVXLC0-9]+\.?\s*$")


def books(work: Path, chars: int, rng: random.Random) -> tuple[list[Doc], list[SourceFile]]:
    import warnings

    import rdata

    warnings.filterwarnings("ignore", message="Unknown file type: assumed RDS")  # chunks of a lazy-load DB

    root, version = fetch("r-cran-janeaustenr", work)
    data_dir = root / "usr/lib/R/site-library/janeaustenr/data"
    index = rdata.conversion.convert(rdata.parser.parse_data(gzip.decompress((data_dir / "Rdata.rdx").read_bytes())))
    rdb = (data_dir / "Rdata.rdb").read_bytes()
    key = "books/janeaustenr"
    sf = SourceFile(
        key=key,
        domain="books",
        package="r-cran-janeaustenr",
        version=version,
        path="usr/lib/R/site-library/janeaustenr/data/Rdata.rdb",
        licence="public-domain",
        copyright="Novels by Jane Austen (1775-1817), public domain, as transcribed by Project Gutenberg; "
        "the R package around them: Copyright 2016-2017 Julia Silge, MIT",
        licence_evidence="usr/share/doc/r-cran-janeaustenr/copyright (package: MIT); texts first published 1811-1817",
    )
    docs = []
    for name, (offset, length) in index["variables"].items():
        chunk = rdb[int(offset) : int(offset) + int(length)]
        lines = [
            x if isinstance(x, str) else ""
            for x in rdata.conversion.convert(rdata.parser.parse_data(zlib.decompress(chunk[4:])))
        ]
        chapters: list[tuple[str, list[str]]] = []
        for line in lines:
            if _CHAPTER.match(line.strip()):
                chapters.append((line.strip(), []))
            elif chapters:
                chapters[-1][1].append(line)
        for n, (heading, body) in enumerate(chapters, start=1):
            paragraphs = [" ".join(p.split()) for p in "\n".join(body).split("\n\n") if p.strip()]
            text = heading + "\n\n" + "\n\n".join(paragraphs)
            if len(text) < 2000:
                continue
            docs.append(
                Doc(f"books/{name}/ch{n:02d}", "books", text, f"r-cran-janeaustenr {version}: {name}, {heading}", key)
            )
    return take(docs, chars, rng), [sf]


# -- encyclopedia: FOLDOC --------------------------------------------------------------------------------
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(s: str) -> int:
    n = 0
    for ch in s:
        n = n * 64 + _B64.index(ch)
    return n


def encyclopedia(work: Path, chars: int, rng: random.Random) -> tuple[list[Doc], list[SourceFile]]:
    root, version = fetch("dict-foldoc", work)
    dict_dir = root / "usr/share/dictd"
    data = gzip.decompress((dict_dir / "foldoc.dict.dz").read_bytes())  # dictd offsets count bytes
    key = "encyclopedia/foldoc"
    sf = SourceFile(
        key=key,
        domain="encyclopedia",
        package="dict-foldoc",
        version=version,
        path="usr/share/dictd/foldoc.dict.dz",
        licence="GFDL-1.1-or-later",
        copyright="The Free On-line Dictionary of Computing, http://foldoc.org/, Editor Denis Howe; "
        "Copyright 1993 by Denis Howe; no Invariant Sections, Front- or Back-Cover Texts",
        licence_evidence="usr/share/doc/dict-foldoc/copyright",
    )
    docs, seen = [], set()
    for line in (dict_dir / "foldoc.index").read_text(encoding="utf-8").splitlines():
        head, off, length = line.split("\t")
        if head.startswith("00-database") or (off, length) in seen:
            continue
        seen.add((off, length))
        entry = data[_b64(off) : _b64(off) + _b64(length)].decode("utf-8", errors="strict")
        lines = entry.strip("\n").split("\n")
        body = "\n".join(ln.strip() for ln in lines[1:])
        paragraphs = [" ".join(p.split()) for p in body.split("\n\n") if p.strip()]
        text = re.sub(r"\{([^{}]*)\}", r"\1", lines[0].strip() + "\n\n" + "\n\n".join(paragraphs))
        if len(text) < 800:
            continue
        slug = re.sub(r"[^A-Za-z0-9]+", "-", head).strip("-")[:60] or "entry"
        docs.append(
            Doc(f"encyclopedia/foldoc/{slug}", "encyclopedia", text, f"dict-foldoc {version}: entry {head!r}", key)
        )
    return take(docs, chars, rng), [sf]


# -- science: JSS papers among R package vignettes -------------------------------------------------------
VIGNETTES = {  # package -> (vignette files, licence as Debian's copyright file states it)
    "r-cran-zoo": (["zoo.Rnw"], "GPL-2.0-or-later"),
    "r-cran-sandwich": (["sandwich.Rnw", "sandwich-OOP.Rnw"], "GPL-2.0-only"),
    "r-cran-strucchange": (["strucchange-intro.Rnw"], "GPL"),
    "r-cran-lmtest": (["lmtest-intro.Rnw"], "GPL"),
    "r-cran-vcd": (["strucplot.Rnw"], "GPL-2.0-only"),
    "r-cran-partykit": (["ctree.Rnw", "mob.Rnw"], "GPL-2.0-only"),
}
_SECTION = re.compile(r"(?m)^\\(?:section|subsection)\*?\{")


_NUMBERED = re.compile(
    r"\\begin\{(figure|table|equation|align|eqnarray)\}|\\(section|subsection)\{|\\appendix|\\label\{([^{}]*)\}"
)


def label_numbers(body: str) -> dict[str, str]:
    """What LaTeX would print for each `\\ref`: figures, tables and equations counted in order, sections as
    1, 1.2 (A, A.1 after `\\appendix`). Only the common cases; an unknown label is left as "??" like LaTeX."""
    counts = {"figure": 0, "table": 0, "equation": 0, "section": 0, "subsection": 0}
    current, appendix, numbers = "", False, {}
    for m in _NUMBERED.finditer(body):
        env, sec, label = m.group(1), m.group(2), m.group(3)
        if env:
            kind = "equation" if env in {"align", "eqnarray"} else env
            counts[kind] += 1
            current = str(counts[kind])
        elif sec == "section":
            counts["section"] += 1
            counts["subsection"] = 0
            current = chr(64 + counts["section"]) if appendix else str(counts["section"])
        elif sec == "subsection":
            counts["subsection"] += 1
            top = chr(64 + counts["section"]) if appendix else str(counts["section"])
            current = f"{top}.{counts['subsection']}"
        elif m.group(0) == "\\appendix":
            appendix, counts["section"] = True, 0
        elif label:
            numbers[label] = current
    return numbers


def latex_to_prose(tex: str, labels: dict[str, str] | None = None) -> str:
    """Markup removed: code chunks, comments, floats and display math go; JSS macros keep their argument."""
    from pylatexenc.latex2text import LatexNodes2Text

    tex = re.sub(r"(?ms)^<<.*?>>=.*?^@\s*$", "", tex)  # Sweave code chunks
    tex = re.sub(r"\\Sexpr\{[^}]*\}", "", tex)
    tex = re.sub(r"(?m)(?<!\\)%.*$", "", tex)
    tex = re.sub(
        r"(?s)\\begin\{(figure|table|Code|CodeChunk|Schunk|verbatim|equation\*?|align\*?|eqnarray\*?)\}.*?\\end\{\1\}",
        "",
        tex,
    )
    tex = re.sub(r"\\(?:pkg|proglang|code|fct|class|email|url|dQuote|sQuote)\{([^{}]*)\}", r"\1", tex)
    tex = re.sub(r"\\cite([tp]?)(?:\[[^\]]*\])*\{([^{}]*)\}", _citation, tex)
    labels = labels or {}
    tex = re.sub(r"\\ref\{([^{}]*)\}", lambda m: labels.get(m.group(1), "??"), tex)
    tex = re.sub(r"\\eqref\{([^{}]*)\}", lambda m: f"({labels.get(m.group(1), '??')})", tex)
    tex = re.sub(r"\\(?:label|footnote|index)(?:\[[^\]]*\])*\{[^{}]*\}", "", tex)
    tex = re.sub(r"\\(?:sub)*section\*?\{([^{}]*)\}", lambda m: "\n\n" + m.group(1) + "\n\n", tex)
    text = LatexNodes2Text(math_mode="with-delimiters", strict_latex_spaces=True).latex_to_text(tex)
    text = re.sub(r"\$[^$]{0,200}\$", lambda m: m.group(0).strip("$"), text)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    heading, rest = paragraphs[:1], paragraphs[1:]  # the section title, then prose paragraphs only
    return "\n\n".join(heading + [p for p in rest if len(p) > 40 and not p.startswith(("R>", ">"))])


def _citation(m: re.Match[str]) -> str:
    """`\\cite{Zeileis+Hothorn:2002}` -> "Zeileis and Hothorn (2002)": JSS keys are Author+Author:Year, and
    jss.cls makes `\\cite` textual like `\\citet`; `\\citep` gives "(Zeileis and Hothorn 2002)"."""
    cites = []
    for key in m.group(2).split(","):
        names, _, year = key.strip().partition(":")
        authors = names.split("+")
        who = (
            authors[0] if len(authors) == 1 else " and ".join(authors) if len(authors) == 2 else f"{authors[0]} et al."
        )
        year = re.sub(r"[^0-9].*", "", year)
        cites.append(f"{who} ({year})" if m.group(1) != "p" and year else f"{who} {year}".strip())
    return "; ".join(cites) if m.group(1) != "p" else "(" + "; ".join(cites) + ")"


def _copyright_notice(text: str) -> str:
    """The first `Copyright` line of a Debian copyright file, with its indented continuation lines."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Copyright"):
            parts = [line.removeprefix("Copyright:").removeprefix("Copyright").strip()]
            for more in lines[i + 1 :]:
                if not more.startswith(" ") or not more.strip():
                    break
                parts.append(more.strip())
            return "Copyright " + " ".join(parts)
    return ""


def science(work: Path, chars: int, rng: random.Random) -> tuple[list[Doc], list[SourceFile]]:
    docs, files = [], []
    for package, (names, licence) in VIGNETTES.items():
        root, version = fetch(package, work)
        rpkg = package.removeprefix("r-cran-")
        copyright_file = root / f"usr/share/doc/{package}/copyright"
        notice = _copyright_notice(copyright_file.read_text(errors="replace"))
        for name in names:
            path = f"usr/lib/R/site-library/{rpkg}/doc/{name}"
            key = f"science/{rpkg}/{name}"
            files.append(
                SourceFile(
                    key=key,
                    domain="science",
                    package=package,
                    version=version,
                    path=path,
                    licence=licence,
                    copyright=notice,
                    licence_evidence=f"usr/share/doc/{package}/copyright",
                )
            )
            tex = (root / path).read_text(encoding="utf-8", errors="strict")
            body = tex.split("\\begin{document}", 1)[-1].split("\\end{document}", 1)[0]
            starts = [m.start() for m in _SECTION.finditer(body)] + [len(body)]
            labels = label_numbers(body)
            for n, (a, b) in enumerate(zip(starts, starts[1:], strict=False), start=1):
                prose = latex_to_prose(body[a:b], labels)
                if len(prose) < 1500:
                    continue
                docs.append(
                    Doc(
                        f"science/{rpkg}/{name.removesuffix('.Rnw')}/s{n:02d}",
                        "science",
                        prose,
                        f"{package} {version}: {name}, section {n}",
                        key,
                    )
                )
    return take(docs, chars, rng), files


# -- python: CPython standard library --------------------------------------------------------------------
def python(
    work: Path, chars: int, rng: random.Random, sizes: tuple[int, int] = (3000, 25000)
) -> tuple[list[Doc], list[SourceFile]]:
    root, version = fetch("libpython3.11-stdlib", work)
    lib = root / "usr/lib/python3.11"
    candidates = []
    for path in sorted(lib.rglob("*.py")):
        if path.is_symlink():
            continue
        rel = path.relative_to(lib).as_posix()
        if (
            rel.startswith(("test/", "idlelib/idle_test/", "lib2to3/tests/", "site-packages", "dist-packages"))
            or "/tests/" in rel
        ):
            continue
        text = path.read_text(encoding="utf-8", errors="strict")
        if sizes[0] <= len(text) <= sizes[1]:
            candidates.append((rel, text))
    docs = [
        Doc(
            f"python/{rel.removesuffix('.py')}",
            "python",
            text,
            f"libpython3.11-stdlib {version}: {rel}",
            f"python/{rel}",
        )
        for rel, text in candidates
    ]
    chosen = take(docs, chars, rng)
    files = [
        SourceFile(
            key=d.file_key,
            domain="python",
            package="libpython3.11-stdlib",
            version=version,
            path=f"usr/lib/python3.11/{d.file_key.removeprefix('python/')}",
            licence="PSF-2.0",
            copyright="Copyright (c) 2001-2023 Python Software Foundation; All Rights Reserved",
            licence_evidence="Python License in the copyright file of source package python3.11 "
            "(usr/share/doc/python3.11-doc/copyright; libpython3.11-stdlib links its doc folder to "
            "libpython3.11-minimal, which is not downloaded)",
        )
        for d in chosen
    ]
    return chosen, files


# -- html: the Python documentation ----------------------------------------------------------------------
def html(
    work: Path, chars: int, rng: random.Random, sizes: tuple[int, int] = (3000, 25000)
) -> tuple[list[Doc], list[SourceFile]]:
    root, version = fetch("python3.11-doc", work)
    base = root / "usr/share/doc/python3.11/html"
    docs = []
    for path in sorted(base.glob("*/*.html")):
        rel = path.relative_to(base).as_posix()
        if rel.startswith(("_", "genindex", "search")):
            continue
        page = path.read_text(encoding="utf-8", errors="strict")
        start = page.find('<div class="body" role="main">')
        end = page.find('<div class="sphinxsidebar"', start)
        if start < 0 or end < 0:
            continue
        body = page[start:end].rstrip()
        body = re.sub(r"(\s*</div>)+\s*$", "", body).rstrip() + "\n</div>\n"  # the body div, closed once
        if sizes[0] <= len(body) <= sizes[1]:
            docs.append(
                Doc(
                    f"html/{rel.removesuffix('.html')}", "html", body, f"python3.11-doc {version}: {rel}", f"html/{rel}"
                )
            )
    chosen = take(docs, chars, rng)
    files = [
        SourceFile(
            key=d.file_key,
            domain="html",
            package="python3.11-doc",
            version=version,
            path=f"usr/share/doc/python3.11/html/{d.file_key.removeprefix('html/')}",
            licence="PSF-2.0",
            copyright="Copyright (c) 2001-2023 Python Software Foundation",
            licence_evidence="usr/share/doc/python3.11-doc/copyright (Python License); the page footer",
        )
        for d in chosen
    ]
    return chosen, files


# -- latex: TeX Live documentation sources ---------------------------------------------------------------
TEX_SOURCES = {  # path under usr/share/doc/texlive-doc -> (licence, its name in Debian's Licenses.gz, notice)
    "latex/pseudo/doc/pseudo.tex.gz": (
        "MIT",
        "mit",
        "Magnus Lie Hetland (package README: released under the MIT license)",
    ),
    "latex/zx-calculus/zx-calculus.tex.gz": ("MIT", "mit", "Léo Colisson (package README: licensed under MIT)"),
    "generic/commutative-diagrams/commutative-diagrams-doc.tex.gz": (
        "MIT",
        "mit",
        "Copyright (c) 2015-2020 Paolo Brasolin",
    ),
    "latex/mathsemantics/mathsemantics-documentation.tex.gz": (
        "MIT",
        "mit",
        "Copyright (c) 2022 Ronny Bergmann, Roland Herzog",
    ),
    "latex/rec-thy/rec-thy.tex.gz": (
        "public-domain",
        "pd",
        "Peter M. Gerdes, released into the public domain (package README, author Peter Gerdes)",
    ),
    "latex/axodraw2/axodraw2-man.tex.gz": (
        "GPL-3.0-or-later",
        "gpl3+",
        "John Collins and Jos Vermaseren (AUTHORS; COPYING: GPL-3)",
    ),
}


def latex(work: Path, chars: int, rng: random.Random) -> tuple[list[Doc], list[SourceFile]]:
    root, version = fetch("texlive-science-doc", work)
    base = root / "usr/share/doc/texlive-doc"
    licences = gzip.decompress((root / "usr/share/doc/texlive-science-doc/Licenses.gz").read_bytes()).decode()
    docs, files = [], []
    for rel, (licence, debian_name, notice) in TEX_SOURCES.items():
        pkg = rel.split("/")[1]
        listed = re.search(rf"(?m)^{re.escape(pkg)}: (.*)$", licences)
        if not listed or listed.group(1).split() != [debian_name]:
            raise SystemExit(
                f"{pkg}: Licenses.gz says {listed and listed.group(1)!r}, expected {debian_name!r}; recheck"
            )
        key = f"latex/{pkg}"
        files.append(
            SourceFile(
                key=key,
                domain="latex",
                package="texlive-science-doc",
                version=version,
                path=f"usr/share/doc/texlive-doc/{rel}",
                licence=licence,
                copyright=notice,
                licence_evidence=f"usr/share/doc/texlive-science-doc/Licenses.gz ('{pkg}: {listed.group(1).strip()}')",
            )
        )
        tex = read_maybe_gz(base / rel)
        body = tex.split("\\begin{document}", 1)[-1].split("\\end{document}", 1)[0]
        starts = [m.start() for m in _SECTION.finditer(body)] + [len(body)]
        for n, (a, b) in enumerate(zip(starts, starts[1:], strict=False), start=1):
            part = body[a:b].strip() + "\n"
            if 1000 <= len(part) <= 30000:
                docs.append(
                    Doc(
                        f"latex/{pkg}/s{n:02d}",
                        "latex",
                        part,
                        f"texlive-science-doc {version}: {rel}, section {n}",
                        key,
                    )
                )
    return take(docs, chars, rng), files


BUILDERS = {
    "books": books,
    "encyclopedia": encyclopedia,
    "science": science,
    "python": python,
    "html": html,
    "latex": latex,
}

LICENCE_TEXTS = {  # file shipped beside the corpus -> where this machine has the text
    "GPL-2": "/usr/share/common-licenses/GPL-2",
    "GPL-3": "/usr/share/common-licenses/GPL-3",
    "GFDL-1.2": "/usr/share/common-licenses/GFDL-1.2",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "src/lossgap/data/example")
    parser.add_argument("--chars-per-domain", type=int, default=150_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("pylatexenc").setLevel(logging.ERROR)  # it reports tolerated parse errors at length
    all_docs: list[Doc] = []
    all_files: list[SourceFile] = []
    with tempfile.TemporaryDirectory(prefix="lossgap-example-") as tmp:
        work = Path(tmp)
        for domain in DOMAINS:
            rng = random.Random(f"{SEED}-{domain}")
            docs, files = BUILDERS[domain](work, args.chars_per_domain, rng)
            used = {d.file_key for d in docs}
            all_docs += docs
            all_files += [f for f in files if f.key in used]
            log.info("%-12s %4d documents, %7d characters", domain, len(docs), sum(len(d.text) for d in docs))
        python_copyright = (work / "x/python3.11-doc/usr/share/doc/python3.11-doc/copyright").read_text()
    args.out.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "doc_id": [d.doc_id for d in all_docs],
            "domain": [d.domain for d in all_docs],
            "text": [d.text for d in all_docs],
            "source": [d.source for d in all_docs],
        }
    )
    pq.write_table(table, args.out / "corpus.parquet", compression="zstd", compression_level=19)
    lic_dir = args.out / "licenses"
    lic_dir.mkdir(exist_ok=True)
    for name, src in LICENCE_TEXTS.items():
        shutil.copyfile(src, lic_dir / f"{name}.txt")
    psf = python_copyright[python_copyright.index("PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2") :]
    (lic_dir / "PSF-2.0.txt").write_text(psf[: psf.index("BEOPEN.COM LICENSE AGREEMENT")].rstrip() + "\n")
    (lic_dir / "MIT.txt").write_text(MIT_TEXT)
    n_docs: dict[str, int] = {}
    n_chars: dict[str, int] = {}
    for d in all_docs:
        n_docs[d.domain] = n_docs.get(d.domain, 0) + 1
        n_chars[d.domain] = n_chars.get(d.domain, 0) + len(d.text)
    per_file: dict[str, int] = {}
    for d in all_docs:
        per_file[d.file_key] = per_file.get(d.file_key, 0) + 1
    manifest = {
        "name": "lossgap example corpus",
        "built_by": "scripts/build_example_corpus.py",
        "seed": SEED,
        "corpus_sha256": hashlib.sha256((args.out / "corpus.parquet").read_bytes()).hexdigest(),
        "domains": {d: {"n_docs": n_docs.get(d, 0), "n_chars": n_chars.get(d, 0)} for d in DOMAINS},
        "not_included": {
            "news": "no news text that may be redistributed exists in Debian or PyPI packages that we know of"
        },
        "licence_texts": {name: f"licenses/{name}.txt" for name in [*LICENCE_TEXTS, "PSF-2.0", "MIT"]},
        "files": [
            {
                "key": f.key,
                "domain": f.domain,
                "package": f.package,
                "version": f.version,
                "path": f.path,
                "licence": f.licence,
                "copyright": f.copyright,
                "licence_evidence": f.licence_evidence,
                "n_docs": per_file[f.key],
            }
            for f in all_files
        ],
    }
    (args.out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (args.out / "README.md").write_text(readme(manifest), encoding="utf-8")
    log.info(
        "wrote %d documents, %d bytes -> %s", table.num_rows, (args.out / "corpus.parquet").stat().st_size, args.out
    )


def readme(manifest: dict) -> str:
    """README.md of the corpus: what it is, per domain, and every source file with its licence."""
    lines = [
        "# lossgap example corpus",
        "",
        "Real public text in six domains, for the demo and the tests: `corpus.parquet` (doc_id, domain, text,",
        "source). Built by `scripts/build_example_corpus.py` from Debian packages; do not edit by hand.",
        "Long sources are cut at natural boundaries (novel chapters, dictionary entries, paper sections,",
        "modules, documentation pages, manual sections); documents are chosen and ordered by a seeded",
        "random generator, so the same package versions give the same corpus.",
        "",
        "**News is not included**: " + manifest["not_included"]["news"] + ".",
        "",
        "| domain | documents | characters | what |",
        "|---|---|---|---|",
    ]
    what = {
        "books": "chapters of Jane Austen's novels (public domain), from Debian r-cran-janeaustenr",
        "encyclopedia": "entries of FOLDOC, the Free On-line Dictionary of Computing (GFDL), from Debian dict-foldoc",
        "science": "sections of Journal of Statistical Software papers shipped as R package vignettes, LaTeX markup removed",
        "python": "whole modules of the CPython 3.11 standard library (PSF licence)",
        "html": "the main body of pages of the Python 3.11 documentation, as HTML (PSF licence)",
        "latex": "sections of LaTeX sources of TeX Live package manuals (MIT, public domain, GPL-3)",
    }
    for domain, counts in manifest["domains"].items():
        lines.append(f"| {domain} | {counts['n_docs']} | {counts['n_chars']:,} | {what[domain]} |")
    lines += [
        "",
        "## Source files and licences",
        "",
        "| domain | package | version | file | licence | copyright |",
        "|---|---|---|---|---|---|",
    ]
    for f in manifest["files"]:
        lines.append(
            f"| {f['domain']} | {f['package']} | {f['version']} | `{f['path']}` | {f['licence']} | {f['copyright']} |"
        )
    lines += [
        "",
        "Each licence was read from the package's Debian copyright file (for TeX Live, its `Licenses.gz` list and",
        "the package README); `MANIFEST.json` records where, per file. Licence texts are in `licenses/`.",
        "",
    ]
    return "\n".join(lines)


MIT_TEXT = """\
MIT License (the copyright notice of each MIT-licensed source is in MANIFEST.json, field "copyright")

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction, including
without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the
following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial
portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO
EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN
AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE
OR OTHER DEALINGS IN THE SOFTWARE.
"""

if __name__ == "__main__":
    main()
