#!/bin/sh
# Installs the tarballs in dist/ for this platform into an empty project and
# runs a pool there through require() and import (the fixtures in
# __test__/fixtures/installed). The release workflow runs it on every target
# and Node version, with that Node's own npm (npm 6 on Node 14, as Meteor 2
# has); __test__/package.test.mjs does the same here with more checks.
# EXPECT_PLATFORM, when set, is the platform id this machine must be seen as.
# Plain sh: it also runs in Alpine and CentOS 7 containers.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(node -p "require('$root/package.json').version")
id=$(node -p "require('$root/lib/platforms.js').current().id")
if [ -n "${EXPECT_PLATFORM:-}" ] && [ "$id" != "$EXPECT_PLATFORM" ]; then
  echo "this machine is seen as $id, expected $EXPECT_PLATFORM" >&2
  exit 1
fi
project=$(mktemp -d)
trap 'rm -rf "$project"' EXIT
cd "$project"
echo '{"name":"install-test","private":true}' > package.json
# --offline: the other platform packages are optional and npm skips them;
# this platform's comes from dist/, like the main package.
npm install --offline --no-audit --no-fund --no-package-lock \
  "$root/dist/meteor-cluster-$version.tgz" "$root/dist/meteor-cluster-$id-$version.tgz"
cp "$root"/__test__/fixtures/installed/* .
node require.cjs
node import.mjs
echo "meteor-cluster $version ($id) installed and ran on Node $(node --version)"
