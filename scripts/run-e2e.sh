#!/usr/bin/env bash
# Run the guest end-to-end tests with Debian's pytest.
# Usage: run-e2e.sh [JUNIT_XML] [test files or pytest args...]  (default: all)
set -uo pipefail
cd "$(dirname "$0")/../tests/vm"
xml=${1:-../../build/e2e.xml}
shift || true
[ $# -gt 0 ] || set -- .
/usr/bin/python3 -m pytest -p no:cacheprovider -rfE --durations=10 \
	--junitxml="$xml" "$@"
