"""The hook in ``conftest.py``: under ``CI`` a skip fails with its reason, unless the test is
marked ``gpu``; outside CI a skip stays a skip. Run in an inner pytest session (pytester) with
the real hook functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import pytest

def test_needs_a_service():
    pytest.skip("PostgreSQL not available: connection refused")

@pytest.mark.gpu
def test_needs_a_gpu():
    pytest.skip("NVML is not usable on this host")

@pytest.fixture
def database():
    pytest.skip("no database here")

def test_skipped_in_a_fixture(database):
    pass

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False

def test_passes():
    pass
"""

WHOLE_MODULE = """
import pytest
pytest.importorskip("a_module_that_is_not_installed")

def test_never_collected():
    pass
"""


class Hooks:
    """The skip hooks of this folder's conftest, as a plugin for the inner session."""

    def __init__(self, conftest: Any) -> None:
        self.pytest_runtest_makereport = conftest.pytest_runtest_makereport
        self.pytest_make_collect_report = conftest.pytest_make_collect_report


@pytest.fixture
def hooks(request: pytest.FixtureRequest) -> Hooks:
    conftest = request.config.pluginmanager.get_plugin(str(Path(__file__).with_name("conftest.py")))
    assert conftest is not None
    return Hooks(conftest)


def _run(pytester: pytest.Pytester, hooks: Hooks, *args: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\nmarkers =\n    gpu: needs a GPU\n")
    return pytester.runpytest("-p", "no:ape_test", "-p", "no:cacheprovider", *args, plugins=[hooks])


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_under_ci_a_skip_fails_with_its_reason_unless_the_test_is_marked_gpu(
    pytester: pytest.Pytester,
    hooks: Hooks,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
) -> None:
    monkeypatch.setenv("CI", value)
    pytester.makepyfile(test_suite=SUITE)
    result = _run(pytester, hooks, "-rfEs")
    result.assert_outcomes(passed=1, failed=1, errors=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_suite.py::test_skipped_in_a_fixture was skipped under CI*no database here*",
            "*test_suite.py::test_needs_a_service was skipped under CI, where only tests marked "
            "gpu may skip: PostgreSQL not available: connection refused*",
            "SKIPPED*NVML is not usable on this host",
        ]
    )
    assert result.ret != 0


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_outside_ci_a_skip_stays_a_skip(
    pytester: pytest.Pytester,
    hooks: Hooks,
    monkeypatch: pytest.MonkeyPatch,
    value: str | None,
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    pytester.makepyfile(test_suite=SUITE)
    result = _run(pytester, hooks)
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    assert result.ret == 0


def test_under_ci_a_module_skipped_at_import_fails(
    pytester: pytest.Pytester, hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(test_whole=WHOLE_MODULE)
    result = _run(pytester, hooks)
    result.stdout.fnmatch_lines(
        ["*test_whole.py was skipped under CI*a_module_that_is_not_installed*"]
    )
    assert result.ret != 0
