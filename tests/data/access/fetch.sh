#!/usr/bin/env bash
# Fetch meza-test.mdb again from the meza 0.47.0 sdist on PyPI and check it is the same file (see README.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --no-deps --no-binary :all: --dest "$tmp" "meza==0.47.0" >/dev/null
tar -xzf "$tmp"/meza-0.47.0.tar.gz -C "$tmp" meza-0.47.0/data/test/test.mdb meza-0.47.0/LICENSE
echo "25e6ab494c34d61017f67e05c63b5e6685fe344f322297064e6993174ac17430  $tmp/meza-0.47.0/data/test/test.mdb" | sha256sum -c -
cp "$tmp"/meza-0.47.0/data/test/test.mdb "$here/meza-test.mdb"
cp "$tmp"/meza-0.47.0/LICENSE "$here/LICENSE.meza"
