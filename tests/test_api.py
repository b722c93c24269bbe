"""The library API: ``import mvgen`` is cheap, and its entry points (analyze, render, load_styles,
load_classifier) work on a short synthetic track."""

import inspect
import subprocess
import sys

import pytest

import mvgen
from mvgen.errors import MvgenError

SR = 22050


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300).stdout


def test_import_mvgen_is_cheap():
    heavy = _python("import sys, mvgen; print(sorted(m for m in ('torch', 'nnAudio', 'numpy', 'pydantic', 'mvgen.pipeline', 'mvgen.settings') if m in sys.modules))")
    assert heavy.strip() == "[]"


def test_render_is_a_function_and_the_pipeline_a_module():
    # whisper's pattern: the package's entry point is a plain function; the module that holds the
    # pipeline has another name, so importing it never rebinds `mvgen.render`
    out = _python(
        "import mvgen.pipeline as p\n"
        "from mvgen.settings import RenderSettings\n"
        "import mvgen, types\n"
        "print(isinstance(mvgen.render, types.FunctionType), mvgen.render is p.render, mvgen.RenderSettings is RenderSettings)\n"
    )
    assert out.split() == ["True"] * 3
    out = _python("from mvgen import render\nimport mvgen.pipeline, mvgen\nprint(mvgen.render is render, type(mvgen).__name__)\n")
    assert out.split() == ["True", "module"]
    assert list(inspect.signature(mvgen.render).parameters)[:2] == ["path", "out"]


def test_options_are_keyword_only():
    for function in (mvgen.analyze, mvgen.render, mvgen.load_classifier):
        parameters = list(inspect.signature(function).parameters.values())
        assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in parameters[2 if function is mvgen.render else 1 :]), function


@pytest.fixture(scope="module")
def short_track(tmp_path_factory):
    from mvgen import synth
    from mvgen.media.audio import write_audio

    audio, _ = synth.render_clip({"deep_house": 1.0}, seed=1, sr=SR, duration_s=8.0, label="drop")
    path = tmp_path_factory.mktemp("api") / "short.wav"
    write_audio(path, audio, SR)
    return path


@pytest.mark.slow
def test_entry_points_on_a_short_track(short_track, tmp_path):
    from mvgen.media.assemble import probe_video
    from mvgen.classify.checkpoints import default_checkpoint

    analysis = mvgen.analyze(short_track)
    assert isinstance(analysis, mvgen.Analysis)
    assert analysis.tempo_bpm is not None and analysis.duration_s == pytest.approx(8.0, abs=0.01)
    profile = analysis.genre_profile
    assert profile is not None and len(profile.in_scope) == len(profile.times_s) > 0
    assert mvgen.analyze(short_track, genre_profile=False).genre_profile is None

    model = mvgen.load_classifier(default_checkpoint(), device="cpu")
    assert list(model.config.labels) == profile.labels

    styles = mvgen.load_styles(labels=profile.labels)
    assert set(profile.labels) < set(styles)

    progress = []
    video = mvgen.render(short_track, tmp_path / "clip.mp4", size=64, fps=10, end_s=2.0, compile=False, analysis=analysis,
                         on_progress=lambda done, total: progress.append((done, total)))
    assert video == tmp_path / "clip.mp4" and video.is_file()
    info = probe_video(video)
    assert (info.width, info.height, info.n_frames) == (114, 64, 20)
    assert progress[-1] == (20, 20)

    settings = mvgen.RenderSettings(size=64, fps=10, compile=False)
    again = mvgen.render(short_track, tmp_path / "again.mp4", settings=settings, start_s=1.0, end_s=2.0)
    assert probe_video(again).n_frames == 10


def test_bad_options_are_one_line_errors(short_track):
    with pytest.raises(MvgenError, match=r"short\.wav: unknown render option 'sizee'"):
        mvgen.render(short_track, sizee=64)
    with pytest.raises(MvgenError, match=r"short\.wav: render option size: .*64"):
        mvgen.render(short_track, size=8)
    with pytest.raises(MvgenError, match=r"short\.wav: analyze option classifier: .*genre_profile=False"):
        mvgen.analyze(short_track, classifier=False)
    with pytest.raises(TypeError):
        mvgen.analyze(short_track, False)  # options are keyword-only
    with pytest.raises(MvgenError, match="no-such.wav"):
        mvgen.analyze("no-such.wav")
