"""Step 1 of the matched experiment: training data, a tokenizer, and a held-out evaluation corpus.

Everything comes from packages this machine can install without the Hugging Face hub: Debian packages (Jane
Austen's novels, FOLDOC, R package vignettes, the Python 3.11 standard library and documentation, TeX Live
documentation sources) and one PyPI package (SymPy's sources), fetched with `apt-get download` / `pip download`
and never installed. `--source example` uses lossgap's bundled example corpus instead (no download: the CI smoke
test). Usage:

    python experiments/matched/prepare.py --out .matched/data
    python experiments/matched/prepare.py --out /tmp/tiny --source example --vocab 512 --eval-chars 4000

Writes into --out:

    tokenizer/          byte-level BPE (--vocab entries) trained on the training split only
    train-K.u16.xz      the training stream in --parts pieces: documents in a seeded order, each followed by
                        the end-of-text token, uint16, xz-compressed (small enough to carry to the GPU machine)
    eval/corpus.jsonl   held-out documents (doc_id, domain, text), none of them in the training stream
    MANIFEST.json       sources with licences, and per domain and split: documents, characters, tokens
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import lzma
import random
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import build_example_corpus as corpus  # noqa: E402  (the example corpus's Debian sources, reused)
from build_example_corpus import Doc, SourceFile, fetch  # noqa: E402

log = logging.getLogger("matched.prepare")

SEED = 20261130
SYMPY = "sympy==1.13.3"
# Characters of training text per domain at most (the sources hold less for some): about 17M tokens in all.
TRAIN_CHARS = {"books": 4_500_000, "encyclopedia": 2_500_000, "science": 300_000, "docs": 12_000_000,
               "python": 18_000_000, "html": 18_000_000, "latex": 7_000_000}  # fmt: skip
MAX_DOC_CHARS = 6_000  # longer sources are cut at line breaks into documents of at most this size


def rst_docs(work: Path) -> tuple[list[Doc], list[SourceFile]]:
    """The Python 3.11 documentation's reStructuredText sources: technical prose."""
    root, version = fetch("python3.11-doc", work)
    base = root / "usr/share/doc/python3.11/html/_sources"
    docs, files = [], []
    for path in sorted(base.rglob("*.rst.txt")):
        rel = path.relative_to(base).as_posix()
        if rel.startswith(("whatsnew/changelog", "genindex")):
            continue
        key = f"docs/{rel}"
        docs.append(Doc(f"docs/{rel.removesuffix('.rst.txt')}", "docs", path.read_text(encoding="utf-8"),
                        f"python3.11-doc {version}: {rel}", key))  # fmt: skip
        files.append(SourceFile(key, "docs", "python3.11-doc", version, f"usr/share/doc/python3.11/html/_sources/{rel}",
                                "PSF-2.0", "Copyright (c) 2001-2023 Python Software Foundation",
                                "usr/share/doc/python3.11-doc/copyright"))  # fmt: skip
    return docs, files


def sympy_sources(work: Path) -> tuple[list[Doc], list[SourceFile]]:
    """SymPy's Python sources (BSD-3-Clause), from its PyPI wheel."""
    folder = work / "pypi"
    folder.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", SYMPY, "-d", str(folder)], check=True)
    wheel = next(folder.glob("sympy-*.whl"))
    version = SYMPY.split("==")[1]
    docs, files = [], []
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(zf.namelist()):
            if not name.endswith(".py") or "/tests/" in name or "/benchmarks/" in name:
                continue
            text = zf.read(name).decode("utf-8")
            if len(text) < 1000:
                continue
            key = f"python/{name}"
            docs.append(
                Doc(f"python/{name.removesuffix('.py')}", "python", text, f"sympy {version} (PyPI): {name}", key)
            )
            files.append(SourceFile(key, "python", "sympy (PyPI)", version, name, "BSD-3-Clause",
                                    "Copyright (c) 2006-2023 SymPy Development Team", "sympy-*.dist-info/LICENSE"))  # fmt: skip
    return docs, files


def tex_sources(work: Path) -> tuple[list[Doc], list[SourceFile]]:
    """Every LaTeX documentation source in Debian's texlive-science-doc, with its package's licence."""
    import gzip

    root, version = fetch("texlive-science-doc", work)
    base = root / "usr/share/doc/texlive-doc"
    listed = dict(re.findall(r"(?m)^([\w.-]+): (.*)$", gzip.decompress(
        (root / "usr/share/doc/texlive-science-doc/Licenses.gz").read_bytes()).decode()))  # fmt: skip
    docs, files = [], []
    for path in sorted(base.rglob("*.tex.gz")):
        rel = path.relative_to(base).as_posix()
        pkg = rel.split("/")[1]
        if pkg not in listed:
            continue  # no licence stated for it: left out
        text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        key = f"latex/{rel}"
        docs.append(
            Doc(f"latex/{rel.removesuffix('.tex.gz')}", "latex", text, f"texlive-science-doc {version}: {rel}", key)
        )
        files.append(SourceFile(key, "latex", "texlive-science-doc", version, f"usr/share/doc/texlive-doc/{rel}",
                                listed[pkg].strip(), f"the authors of the TeX Live package {pkg}",
                                f"usr/share/doc/texlive-science-doc/Licenses.gz ('{pkg}: {listed[pkg].strip()}')"))  # fmt: skip
    return docs, files


def debian_sources(work: Path) -> tuple[list[Doc], list[SourceFile]]:
    """All documents of every domain (before the split), with their source files."""
    everything = 10**10
    rng = random.Random(SEED)
    parts = [corpus.books(work, everything, rng), corpus.encyclopedia(work, everything, rng),
             corpus.science(work, everything, rng), rst_docs(work),
             corpus.python(work, everything, rng, sizes=(1000, 10**9)), sympy_sources(work),
             corpus.html(work, everything, rng, sizes=(2000, 10**9)), tex_sources(work)]  # fmt: skip
    return [d for docs, _ in parts for d in docs], [f for _, files in parts for f in files]


def example_sources() -> tuple[list[Doc], list[SourceFile]]:
    """lossgap's bundled example corpus (no download)."""
    import pyarrow.parquet as pq

    folder = ROOT / "src/lossgap/data/example"
    table = pq.read_table(folder / "corpus.parquet").to_pylist()
    docs = [Doc(r["doc_id"], r["domain"], r["text"], r["source"], "example") for r in table]
    return docs, [SourceFile("example", "all", "lossgap", "bundled", "src/lossgap/data/example", "see its MANIFEST.json",
                             "see its MANIFEST.json", "src/lossgap/data/example/MANIFEST.json")]  # fmt: skip


def split_long(doc: Doc, max_chars: int) -> list[Doc]:
    """`doc` cut at line breaks into pieces of at most `max_chars` (a longer single line stays whole)."""
    if len(doc.text) <= max_chars:
        return [doc]
    pieces, current, size = [], [], 0
    for line in doc.text.splitlines(keepends=True):
        if current and size + len(line) > max_chars:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    pieces.append("".join(current))
    return [Doc(f"{doc.doc_id}/p{k}", doc.domain, text, f"{doc.source}, part {k}", doc.file_key)
            for k, text in enumerate(pieces, start=1) if text.strip()]  # fmt: skip


def split(docs: list[Doc], eval_chars: int, train_chars: dict[str, int] | None) -> tuple[list[Doc], list[Doc]]:
    """Held-out evaluation documents (about `eval_chars` a domain, at most half of it, each at least 1,500
    characters) and training documents (up to `train_chars` a domain, all if None): disjoint, in a seeded
    random order."""
    rng = random.Random(SEED)
    by_domain: dict[str, list[Doc]] = {}
    for d in docs:
        by_domain.setdefault(d.domain, []).append(d)
    held, train = [], []
    for domain, pool in sorted(by_domain.items()):
        rng.shuffle(pool)
        n = 0
        rest = []
        held_chars = min(eval_chars, sum(len(d.text) for d in pool) // 2)  # a small domain keeps half to train on
        for d in pool:
            if n < held_chars and len(d.text) >= 1500:
                held.append(d)
                n += len(d.text)
            else:
                rest.append(d)
        budget = (train_chars or {}).get(domain, 10**12)
        n = 0
        for d in rest:
            if n >= budget:
                break
            train.append(d)
            n += len(d.text)
    rng.shuffle(train)
    return held, train


def train_tokenizer(texts: list[str], vocab: int, folder: Path) -> None:
    """Byte-level BPE with an end-of-text and a padding token. The end-of-text token is also the BOS token (as
    GPT-2's): training documents follow one in the stream, and lossgap puts one before each scored document."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>", "<|pad|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)  # fmt: skip
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   pad_token="<|pad|>", model_max_length=1 << 20)  # fmt: skip
    fast.save_pretrained(folder)


def token_stream(tokenizer_folder: Path, docs: list[Doc]) -> tuple[np.ndarray, list[int]]:
    """uint16 ids of the documents, each followed by the end-of-text id; and each document's token count."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_folder)
    eos = tok.eos_token_id
    ids = tok([d.text for d in docs], add_special_tokens=False)["input_ids"]
    stream = np.fromiter((t for doc in ids for t in (*doc, eos)), dtype=np.uint16, count=sum(len(x) + 1 for x in ids))
    return stream, [len(x) for x in ids]


def write_parts(stream: np.ndarray, out: Path, parts: int) -> list[dict]:
    """The stream in `parts` xz files of about equal size; their names, token counts and sha256s."""
    bounds = np.linspace(0, len(stream), parts + 1).astype(int)
    written = []
    for k in range(parts):
        path = out / f"train-{k}.u16.xz"
        data = lzma.compress(stream[bounds[k] : bounds[k + 1]].tobytes(), preset=9 | lzma.PRESET_EXTREME)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        written.append({"file": path.name, "tokens": int(bounds[k + 1] - bounds[k]), "bytes": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()})  # fmt: skip
    return written


def read_stream(folder: Path) -> np.ndarray:
    """The training stream written by `write_parts`, checked against MANIFEST.json."""
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    chunks = []
    for part in manifest["train_parts"]:
        data = (folder / part["file"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != part["sha256"]:
            raise SystemExit(f"{folder / part['file']}: checksum differs from MANIFEST.json; rebuild or re-copy it")
        chunks.append(np.frombuffer(lzma.decompress(data), dtype=np.uint16))
    return np.concatenate(chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--source", choices=("debian", "example"), default="debian")
    parser.add_argument("--vocab", type=int, default=16384)
    parser.add_argument("--eval-chars", type=int, default=160_000, help="held-out characters per domain")
    parser.add_argument("--parts", type=int, default=2, help="files the training stream is written in")
    parser.add_argument(
        "--work", type=Path, default=None, help="where packages are downloaded (default: a temporary folder)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("pylatexenc").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory(prefix="matched-") as tmp:
        if args.source == "debian":
            docs, files = debian_sources(args.work or Path(tmp))
            caps: dict[str, int] | None = TRAIN_CHARS
        else:
            docs, files = example_sources()
            caps = None
    docs = [piece for d in docs for piece in split_long(d, MAX_DOC_CHARS)]
    held, train = split(docs, args.eval_chars, caps)
    assert not {d.doc_id for d in held} & {d.doc_id for d in train}
    args.out.mkdir(parents=True, exist_ok=True)
    log.info("training tokenizer (%d entries) on %d documents", args.vocab, len(train))
    train_tokenizer([d.text for d in train], args.vocab, args.out / "tokenizer")
    stream, train_tokens = token_stream(args.out / "tokenizer", train)
    _, held_tokens = token_stream(args.out / "tokenizer", held)
    parts = write_parts(stream, args.out, args.parts)
    (args.out / "eval").mkdir(exist_ok=True)
    with open(args.out / "eval/corpus.jsonl", "w", encoding="utf-8") as fh:
        for d in held:
            fh.write(json.dumps({"doc_id": d.doc_id, "domain": d.domain, "text": d.text}, ensure_ascii=False) + "\n")

    def stats(split_docs: list[Doc], tokens: list[int]) -> dict:
        out: dict[str, dict[str, int]] = {}
        for d, n in zip(split_docs, tokens, strict=True):
            s = out.setdefault(d.domain, {"docs": 0, "chars": 0, "tokens": 0})
            s["docs"] += 1
            s["chars"] += len(d.text)
            s["tokens"] += n
        return dict(sorted(out.items()))

    used = {d.file_key for d in held + train}
    manifest = {
        "built_by": "experiments/matched/prepare.py", "source": args.source, "seed": SEED, "vocab": args.vocab,
        "train": stats(train, train_tokens), "eval": stats(held, held_tokens),
        "train_tokens": int(len(stream)), "train_parts": parts,
        "files": [vars(f) for f in files if f.key in used],
    }  # fmt: skip
    (args.out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    for name in ("train", "eval"):
        for domain, s in manifest[name].items():
            log.info("%-5s %-12s %6d docs %11d chars %10d tokens", name, domain, s["docs"], s["chars"], s["tokens"])
    log.info(
        "training stream: %d tokens in %s",
        len(stream),
        ", ".join(f"{p['file']} ({p['bytes'] / 1e6:.1f} MB)" for p in parts),
    )


if __name__ == "__main__":
    main()
