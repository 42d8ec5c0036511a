# Chromium for tests/test_report.py (docs/report.md): Debian's browser, driven headless by
# Playwright (launched with executable_path=/usr/bin/chromium; Playwright's own browser download
# is never used). Sourced by .ci/run.

if ! [ -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; }
fi
[ -x /usr/bin/chromium ] || echo "chromium.sh: /usr/bin/chromium is not installed" >&2
