"""The tests' own rule for missing optional parts: skip on a developer's machine, fail under
CI=true (tests/helpers/environment.py)."""
import pytest
from helpers.environment import import_or_skip, on_ci, skip_or_fail_on_ci


@pytest.mark.parametrize("value, strict", [("true", True), ("1", True), ("", False),
                                           ("false", False)])  # fmt: skip
def test_ci_is_read_from_the_environment(monkeypatch, value, strict):
    monkeypatch.setenv("CI", value)
    assert on_ci() is strict


def test_missing_parts_skip_locally_and_fail_on_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no data"):
        skip_or_fail_on_ci("no data")
    with pytest.raises(pytest.skip.Exception, match="no_such_module_h21"):
        import_or_skip("no_such_module_h21")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no data; CI=true"):
        skip_or_fail_on_ci("no data")
    with pytest.raises(pytest.fail.Exception, match="no_such_module_h21"):
        import_or_skip("no_such_module_h21")
    assert import_or_skip("json").dumps([]) == "[]"
