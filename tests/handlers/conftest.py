from __future__ import annotations

import os
from typing import Iterator

import pytest
from moto import mock_aws

from tests.handlers.platform import REGION, Platform


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """A fresh mocked AWS with the dev platform created from generated/dev."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    with mock_aws():
        yield Platform.build("dev")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """test_grants.py reads what the other handler tests called: it runs after all of them."""
    last = [item for item in items if item.path.name == "test_grants.py"]
    items[:] = [item for item in items if item.path.name != "test_grants.py"] + last
