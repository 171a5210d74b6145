"""CI cannot pass by skipping: with CI=true a test whose system packages are missing fails."""

from __future__ import annotations

import conftest
import pytest


def test_missing_packages_skip_on_a_developer_machine_and_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        conftest.require(False, "needs a thing")
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true and needs a thing"):
        conftest.require(False, "needs a thing")
    conftest.require(True, "needs a thing")  # available: runs
