"""The package as users get it: installed by pip with libroost.so inside, and
an ImportError that says how to build the library when there is none."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

import pytest

import roost

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(roost.__file__)))


def run_python(code: str, cwd: str, **env_changes: Any) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("ROOST_LIBRARY", None)
    env.update({k: v for k, v in env_changes.items() if v is not None})
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_without_the_library_import_fails_saying_how_to_build_it(tmp_path: Any) -> None:
    out = run_python("import roost", str(tmp_path), PYTHONPATH=PACKAGE_DIR,
                     ROOST_LIBRARY=os.path.join(str(tmp_path), "missing", "libroost.so"))
    assert out.returncode == 1, "an ImportError, not a crash"
    assert "ImportError" in out.stderr
    assert "bazel build //sdk/c:libroost.so" in out.stderr
    assert "ROOST_LIBRARY" in out.stderr


def test_pip_installs_the_package_with_the_library_inside(tmp_path: Any) -> None:
    if subprocess.run([sys.executable, "-m", "pip", "--version"],
                      capture_output=True).returncode != 0:
        pytest.skip("pip is not installed for %s (Debian: python3-pip)" % sys.executable)
    # pip builds in the source tree; build a copy (Bazel's runfiles are read-only).
    source = os.path.join(str(tmp_path), "src")
    shutil.copytree(PACKAGE_DIR, source, symlinks=False,
                    ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__",
                                                  "libroost.so"))
    target = os.path.join(str(tmp_path), "site")
    env = dict(os.environ, PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               ROOST_LIBRARY=roost.library_path)
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                          "--no-index", "--target", target, source],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    installed = os.path.join(target, "roost")
    assert os.path.isfile(os.path.join(installed, "libroost.so"))
    assert os.path.isfile(os.path.join(installed, "py.typed"))

    # Imported from elsewhere with no hint: it finds the library next to itself.
    out = run_python("import roost; print(roost.library_path, roost.__version__)",
                     str(tmp_path), PYTHONPATH=target)
    assert out.returncode == 0, out.stderr
    path, version = out.stdout.split()
    assert path == os.path.join(installed, "libroost.so")
    assert version == roost.__version__
