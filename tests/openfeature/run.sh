#!/bin/sh
# Bazel entry for the OpenFeature suite: node runs openfeature_test.js with
# the binaries and data files Bazel passes as arguments. The npm packages
# are installed (pinned, from package-lock.json) by tools/setup-node.sh.
here=$(dirname "$0")
if ! command -v node >/dev/null 2>&1; then
    echo "openfeature: node is not installed; run tools/setup.sh"
    echo "0 passed, 1 failed"
    exit 1
fi
exec node "$here/openfeature_test.js" "$@"
