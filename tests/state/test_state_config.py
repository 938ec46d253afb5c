"""The ``state:`` section: memory by default, redis with a url; mistakes named by file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmswitch.config import load
from llmswitch.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "providers.yaml"
    path.write_text(text)
    return path


def test_memory_is_the_default(tmp_path: Path) -> None:
    state = load(write(tmp_path, "providers: {m: {type: mock}}\n")).config.state
    assert (state.backend, state.url, state.prefix, state.timeout) == ("memory", None, "llmswitch", 0.05)


def test_redis_with_url_prefix_timeout(tmp_path: Path) -> None:
    text = ("providers:\n  m: {type: mock, rpm: 100, tpm: 5000}\n"
            "state:\n  backend: redis\n  url: redis://127.0.0.1:6390/2\n  prefix: fleet\n  timeout: 0.02\n")
    config = load(write(tmp_path, text)).config
    assert (config.state.backend, config.state.url, config.state.prefix, config.state.timeout) == (
        "redis", "redis://127.0.0.1:6390/2", "fleet", 0.02)
    assert (config.providers["m"].rpm, config.providers["m"].tpm) == (100, 5000)


@pytest.mark.parametrize(("state", "where", "says"), [
    ("  backend: redis\n", "providers.yaml:2: state", "needs `url`"),
    ("  backend: redis\n  url: http://h:6379\n", "providers.yaml:4: state.url", "redis://"),
    ("  backend: etcd\n", "providers.yaml:3: state.backend", "'memory' or 'redis'"),
    ("  timeout: 0\n", "providers.yaml:3: state.timeout", "greater than 0"),
    ("  prefix: 'a b'\n", "providers.yaml:3: state.prefix", "pattern"),
    ("  pool: 3\n", "providers.yaml:3: state.pool", "unknown key"),
])
def test_mistakes_name_file_line_field(tmp_path: Path, state: str, where: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, "providers: {m: {type: mock}}\nstate:\n" + state))
    assert where in str(info.value) and says in str(info.value)


def test_a_provider_rpm_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"providers.yaml:3: providers.m.rpm: .*greater than 0"):
        load(write(tmp_path, "providers:\n  m:\n    rpm: 0\n    type: mock\n"))
