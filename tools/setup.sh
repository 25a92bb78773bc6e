#!/bin/sh
# Installs the Debian packages Roost builds and tests with. Idempotent: when
# everything is present it prints nothing and exits 0.
set -eu

PKGS="bazel-bootstrap build-essential clang libclang-rt-14-dev \
libgrpc-dev protobuf-compiler libprotobuf-dev protobuf-c-compiler libprotobuf-c-dev \
nanopb libnanopb-dev liblmdb-dev lmdb-utils libcjson-dev libcmocka-dev \
libmicrohttpd-dev libcurl4-openssl-dev python3-pytest python3-pip"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
# Node.js comes from the machine (NodeSource or Debian); Debian's npm package
# conflicts with NodeSource's nodejs, so only ask for it when node is absent.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages:$missing" >&2
    echo "setup: run this script as root (or with sudo) to install them" >&2
    exit 1
fi
echo "setup: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
