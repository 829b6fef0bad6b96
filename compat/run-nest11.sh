#!/usr/bin/env bash
# The Nest 11 compatibility job (run by .ci/run; runnable alone: `bash compat/run-nest11.sh`).
#
# 1. A Nest 11 app laid out like the Nest 11 starter (CommonJS, jest 29 + ts-jest, TypeScript as
#    the starter pins it) installs the packed tarball, compiles, and runs its unit and e2e tests on
#    Express and Fastify.
# 2. The package's own e2e and route-table suites run against Nest 11 (a second install of this
#    repository with the @nestjs/* 11 packages), on both adapters.
#
# Everything is installed from the registry into a temporary directory and removed afterwards:
# nothing is cached between runs.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
NPM_FLAGS=(--no-audit --no-fund --loglevel=error)

echo "== nest 11: pack the package"
cd "$ROOT"
TARBALL="$WORK/$(npm pack --silent --pack-destination "$WORK" | tail -1)"

echo "== nest 11: the starter app installs the tarball"
cp -r "$ROOT/compat/nest11-starter" "$WORK/app"
cd "$WORK/app"
npm install "${NPM_FLAGS[@]}"
npm install "${NPM_FLAGS[@]}" "$TARBALL"
npm ls --depth=0 @nestjs/core @nestjs/platform-fastify typescript jest nestjs-cors
npm run build
npm test -- --ci
npm run test:e2e -- --ci

echo "== nest 11: the package's e2e suites against @nestjs/* 11"
mkdir "$WORK/repo"
git -C "$ROOT" ls-files -z | (cd "$ROOT" && xargs -0 cp --parents -t "$WORK/repo")
cd "$WORK/repo"
node compat/use-nest11.mjs package.json
# The suites' other dev dependencies (GraphQL, Swagger, serve-static 12) declare Nest 12 peers.
npm install "${NPM_FLAGS[@]}" --legacy-peer-deps
npm ls --depth=0 @nestjs/core @nestjs/common @nestjs/platform-express @nestjs/platform-fastify \
  @nestjs/websockets @nestjs/platform-ws @nestjs/platform-socket.io
# Not run here, with the reason: non-controller-routes and the browser GraphQL suite need
# @nestjs/graphql 14, @nestjs/swagger 12 and @nestjs/serve-static 12, which only work on Nest 12
# (they import Nest 12 APIs); they run against Nest 12 in `npm test`.
node --experimental-vm-modules --no-warnings=ExperimentalWarning ./node_modules/jest/bin/jest.js \
  --ci test/e2e test/routing test/ws test/proxy/module.spec.ts test/readme/quick-start.spec.ts \
  --testPathIgnorePatterns /node_modules/ non-controller-routes
