from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def nlp():  # type: ignore[no-untyped-def]
    from lossgap.features.words import load_spacy

    return load_spacy()
