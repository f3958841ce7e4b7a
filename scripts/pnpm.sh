#!/usr/bin/env bash
# Runs the workspace's pinned pnpm (packageManager field) through corepack, whatever Node is on PATH.
# COREPACK_INTEGRITY_KEYS=0: the corepack bundled with Debian's/older Node carries stale registry keys
# and rejects current pnpm releases ("No compatible signature found"); the npm registry is still the source.
set -euo pipefail
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0 COREPACK_INTEGRITY_KEYS=0 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if command -v corepack >/dev/null 2>&1; then
  exec corepack pnpm "$@"
fi
exec npx --yes pnpm@10.34.9 "$@"
