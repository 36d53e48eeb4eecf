"""Package-level checks: the stub file matches the native module, the public API is complete."""

import subprocess
import sys

import ruuvistream


def test_stubs_match_the_native_module():
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "ruuvistream._native", "--ignore-missing-stub"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_api_is_documented():
    for name in ruuvistream.__all__:
        obj = getattr(ruuvistream, name)
        if callable(obj):
            assert obj.__doc__, name
    assert ruuvistream.__version__
