#!/usr/bin/env bash
# npm run test:fuzz: builds the service, installs Schemathesis (PyPI, pinned) into a virtual environment
# under .ci-cache/ (ignored, reused between runs), then scripts/fuzz.js starts the service on a temporary
# DATA_DIR on 127.0.0.1 and runs Schemathesis against its /openapi.json with an owner and a gateway token.
# Exits non-zero on any server error, any answer outside the document, or any other failed check.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5

# Python 3.11's ast.parse fails now and then under Hypothesis ("AST constructor recursion depth
# mismatch", seen with 3.11.7): take a newer interpreter when one is installed (pyenv's too).
python=""
pyenv_root="$(pyenv root 2>/dev/null || true)"
for candidate in python3.13 python3.12 $(ls -d "$pyenv_root"/versions/3.1[23]*/bin/python3 2>/dev/null | sort -rV) python3; do
  if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "test:fuzz needs Python 3.10 or newer with venv (apt-get install python3-venv)" >&2
  exit 1
fi
python_version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
venv=".ci-cache/schemathesis-${SCHEMATHESIS_VERSION}-py${python_version}"

npm run --silent build

if [ ! -x "$venv/bin/st" ]; then
  echo "== installing schemathesis ${SCHEMATHESIS_VERSION} into $venv (Python ${python_version})"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==${SCHEMATHESIS_VERSION}"
fi

exec node scripts/fuzz.js "$venv/bin/st"
