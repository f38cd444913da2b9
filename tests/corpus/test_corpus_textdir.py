"""The text-folder reader: one document per file, domain from the sub-folder or from an option."""

from __future__ import annotations

from pathlib import Path

from lossgap.corpus import read_corpus


def make_tree(root: Path) -> Path:
    (root / "books").mkdir(parents=True)
    (root / "python" / "pkg").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "books" / "b1.txt").write_text("It was a truth.")
    (root / "books" / "b2.txt").write_bytes(b"Caf\xe9.")
    (root / "python" / "pkg" / "m.py").write_text("x = 1\n")
    (root / "python" / "blob.bin").write_bytes(b"\x89PNG\x00\x01")
    (root / "top.txt").write_text("At the top.")
    (root / "empty.txt").write_text("\n\n")
    (root / ".hidden" / "h.txt").write_text("hidden")
    (root / ".dotfile").write_text("hidden")
    return root


def test_textdir_one_document_per_file_domain_from_subfolder(tmp_path: Path) -> None:
    corpus = read_corpus(make_tree(tmp_path / "c"))
    rows = [(r["doc_id"], r["domain"], r["text"]) for r in corpus.table.to_pylist()]
    assert rows == [
        ("books/b1.txt", "books", "It was a truth."),
        ("books/b2.txt", "books", "Caf\ufffd."),
        ("python/pkg/m.py", "python", "x = 1\n"),
        ("top.txt", "unknown", "At the top."),
    ]
    assert corpus.skipped == {"binary_file": 1, "empty_text": 1}
    assert corpus.repaired == {"invalid_utf8": 1}


def test_textdir_domain_option_overrides_subfolders(tmp_path: Path) -> None:
    corpus = read_corpus(make_tree(tmp_path / "c"), domain="misc")
    assert set(corpus.table.column("domain").to_pylist()) == {"misc"}


def test_single_text_file_is_one_document(tmp_path: Path) -> None:
    f = tmp_path / "note.txt"
    f.write_text("Just one.")
    assert read_corpus(f).table.select(["doc_id", "text"]).to_pylist() == [{"doc_id": "note.txt", "text": "Just one."}]
