import pytest

from lossgap.errors import ConfigError
from lossgap.report import ReportConfig


def test_config_defaults_are_valid():
    config = ReportConfig()
    assert (config.top_rows, config.viewer_docs, config.viewer_tokens, config.extra_docs) == (10, 12, 1500, ())


@pytest.mark.parametrize(
    "options, named",
    [
        ({"top_rows": 0}, "top_rows"),
        ({"viewer_docs": -1}, "viewer_docs"),
        ({"viewer_tokens": 3}, "viewer_tokens"),
        ({"viewer_tokens": True}, "viewer_tokens"),
        ({"extra_docs": ["a"]}, "extra_docs"),
        ({"title": "  "}, "title"),
    ],
)
def test_config_rejects_bad_option_naming_it(options, named):
    with pytest.raises(ConfigError, match=named):
        ReportConfig(**options)


def test_config_is_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        ReportConfig(10)  # type: ignore[misc]
    config = ReportConfig()
    with pytest.raises(AttributeError):
        config.top_rows = 3  # type: ignore[misc]
