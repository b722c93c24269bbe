# Sourced by scripts/demo and scripts/test: make sure mvgen and its test tools are installed.
# Uses the active virtual environment, else creates ./.venv. Torch is installed first, pinned, so that
# machines with a local CPU wheel of that version (pip's find-links) use it instead of pulling the
# multi-GB CUDA build; elsewhere the same pin gets the ordinary PyPI build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TORCH_PIN="${MVGEN_TORCH_PIN:-torch==2.13.0}"
if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    echo "mvgen setup: creating virtual environment .venv" >&2
    python3 -m venv .venv
  fi
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
stamp="$VIRTUAL_ENV/.mvgen-install-stamp"
want="$(sha256sum < pyproject.toml | cut -d" " -f1) $(pwd)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  if ! python -c "import torch" >/dev/null 2>&1; then
    echo "mvgen setup: installing $TORCH_PIN" >&2
    python -m pip install -q "$TORCH_PIN" || python -m pip install -q torch
  fi
  echo "mvgen setup: installing mvgen and test tools" >&2
  python -m pip install -q -e '.[test]'
  echo "$want" > "$stamp"
fi
