"""Build hook for the roost package: puts libroost.so (the C SDK, which the
package loads with ctypes) into the built package, so that an installed
roost needs nothing else from the Roost repository.

Where the library comes from, in order:
  1. $ROOST_LIBRARY, a path to libroost.so;
  2. the repository's bazel-bin/sdk/c/libroost.so (after
     `bazel build //sdk/c:libroost.so` with the default output links);
  3. with ROOST_BUILD_LIBRARY=1, `bazel build //sdk/c:libroost.so` run here.
Without one, the package is built without the library and looks for it when
imported ($ROOST_LIBRARY, or the dynamic linker's path), saying how to build
it when it cannot find it. Everything else is in pyproject.toml.
"""
import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TARGET = "//sdk/c:libroost.so"


def find_library():
    env = os.environ.get("ROOST_LIBRARY")
    if env:
        if not os.path.isfile(env):
            sys.exit("setup.py: ROOST_LIBRARY=%s: no such file" % env)
        return env
    built = os.path.join(REPO, "bazel-bin", "sdk", "c", "libroost.so")
    if os.path.isfile(built):
        return built
    if os.environ.get("ROOST_BUILD_LIBRARY") == "1":
        subprocess.check_call(["bazel", "build", TARGET], cwd=REPO)
        bin_dir = subprocess.check_output(["bazel", "info", "bazel-bin"], cwd=REPO, text=True)
        return os.path.join(bin_dir.strip(), "sdk", "c", "libroost.so")
    return None


LIBRARY = find_library()


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        if LIBRARY is None:
            print("setup.py: libroost.so not found; the package will look for it at import "
                  "time (bazel build %s, then set ROOST_LIBRARY)" % TARGET)
            return
        dest = os.path.join(self.build_lib, "roost", "libroost.so")
        print("setup.py: including %s" % LIBRARY)
        shutil.copyfile(LIBRARY, dest)
        os.chmod(dest, 0o755)


class PlatformDistribution(Distribution):
    # With the shared library inside, the wheel is for this platform only.
    def has_ext_modules(self):
        return LIBRARY is not None


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=PlatformDistribution)
