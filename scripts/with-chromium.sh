#!/usr/bin/env bash
# Run a command with Debian's Chromium installed for the console's browser test (tests/web/test_browser.py).
# Installs the `chromium` package with apt where it is missing and apt is usable (root), the way
# with-postgres.sh installs PostgreSQL. Playwright drives it as it is: no browser is ever downloaded.
# Without it the browser test is skipped, not failed.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "with-chromium: installing Chromium (apt-get)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) >&2 || true
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "with-chromium: no chromium found; the console's browser test will be skipped" >&2
fi
exec "$@"
