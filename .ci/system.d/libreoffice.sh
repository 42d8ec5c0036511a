# LibreOffice Calc (headless) for tests/test_workbooks.py and tests/test_workbook_injection.py: it
# recalculates the workbooks' formulas independently of openpyxl (README, docs/workbooks.md).
# Sourced by .ci/run; the tests find `soffice` on PATH through tests/system_tools.py.
if ! command -v soffice >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q --no-install-recommends libreoffice-calc-nogui >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends libreoffice-calc-nogui >/dev/null; }
fi
command -v soffice >/dev/null 2>&1 || { echo "libreoffice.sh: soffice not found after install" >&2; return 1 2>/dev/null || exit 1; }
