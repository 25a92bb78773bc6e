#!/bin/sh
# Installs the npm packages the test and benchmark tooling uses, exactly as
# pinned in each package-lock.json (npm ci). Quiet and quick when they are
# already installed. Node.js itself comes from tools/setup.sh.
set -eu
cd "$(dirname "$0")/.."
for dir in tests/openfeature tools/bench/engine; do
    [ -f "$dir/package-lock.json" ] || continue
    # Skip when node_modules is newer than the lock file.
    if [ -d "$dir/node_modules" ] && [ "$dir/node_modules" -nt "$dir/package-lock.json" ]; then
        continue
    fi
    echo "setup-node: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$dir/node_modules"
done
