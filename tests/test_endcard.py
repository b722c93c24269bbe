"""The end card: its length rules, the safe zones, text that fits without being cut, and renders
with a card probed and decoded (cover in place, fade from the running video, frame count equal to the
audio's length, audio unchanged, resume, no card when turned off), with both ffmpegs."""

import json
import os
import subprocess

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mvgen.media.assemble import probe_video
from mvgen.brand.branding import Branding, PixelBox, frame_safe_zone, min_text_px
from mvgen.brand.endcard import ARTIST_SIZE, CALL_TO_ACTION_SIZE, FADE_S, TITLE_SIZE, EndCard, card_frames
from mvgen.errors import MvgenError
from mvgen.brand.fonts import load_font
from tests.videos import audio_lag_samples


def _cover(path, size_px=240):
    """A cover of four flat quadrants: orange, teal, purple, cream."""
    img = np.zeros((size_px, size_px, 3), np.uint8)
    h = size_px // 2
    img[:h, :h], img[:h, h:], img[h:, :h], img[h:, h:] = (245, 140, 30), (20, 120, 130), (50, 20, 70), (240, 220, 200)
    Image.fromarray(img).save(path)
    return path


def test_safe_zones():
    """The card's safe zone is the overlay's (mvgen.brand.branding), chosen from the frame's size alone.
    The platforms' 9:16 box is x 65-910, y 270-1250 at 1080x1920; in pixels it is rounded inwards to
    even coordinates (whole 4:2:0 chroma samples), so x0 65 -> 66, and at 540x960 (32.5, 135, 455,
    625) -> (34, 136, 454, 624)."""
    assert frame_safe_zone(1080, 1920) == PixelBox(66, 270, 910, 1250)  # the platforms' 9:16 safe zone
    assert frame_safe_zone(540, 960) == PixelBox(34, 136, 454, 624)  # scaled, rounded inwards to even pixels
    assert frame_safe_zone(1280, 720) == PixelBox(64, 36, 1216, 684)  # title safe: 90% of each side
    assert frame_safe_zone(720, 720) == PixelBox(36, 36, 684, 684)
    assert frame_safe_zone(864, 1080) == PixelBox(44, 54, 820, 1026)  # 4:5, title safe
    # a frame of no listed aspect takes the nearest one's zone: 1080x1800 (3:5) is nearest 9:16
    assert frame_safe_zone(1080, 1800) == frame_safe_zone(1080, 1800, "9:16") != frame_safe_zone(1080, 1800, "4:5")
    # the aspect, when known, decides; the card uses the zone it is given
    card = EndCard(Branding(artist="A"), 1080, 1800, 30.0, 30, aspect="4:5")
    assert card.layout.safe == frame_safe_zone(1080, 1800, "4:5")


def test_card_length_rules():
    full = Branding(cover=None, artist="A", title="T")
    assert card_frames(full, 60.0, 30.0) == 90  # the default 3 s
    assert card_frames(full, 15.0, 30.0) == 90  # a 15 s clip: 3 s, a fifth of it
    assert card_frames(full, 10.0, 30.0) == 60  # a 10 s clip: 2 s
    assert card_frames(full, 4.9, 30.0) == 0  # under MIN_CARD_S: unreadable, dropped
    assert card_frames(full.model_copy(update={"end_card_s": 0.0}), 60.0, 30.0) == 0  # --end-card 0
    assert card_frames(full, 60.0, 30.0, enabled=False) == 0  # Spotify Canvas
    assert card_frames(Branding(label="L", release_date="2026-12-04"), 60.0, 30.0) == 0  # nothing to show
    assert card_frames(Branding(artist="A"), 60.0, 25.0) == 75


def _widest_line_px(text: str, size_px: int) -> int:
    font = load_font(None, size_px)
    return max(font.getbbox(line)[2] - font.getbbox(line)[0] for line in text.split("\n"))


@pytest.mark.parametrize("size", [(1080, 1920), (1920, 1080), (256, 144)])
def test_text_shrinks_then_wraps_never_cut(size):
    """The card's texts are fitted by the overlay's fitter: a short text keeps its size; a long title
    shrinks, then wraps, every word kept in order; one word wider than the column is broken between
    letters, every letter kept; nothing below the readable minimum, every line inside the safe zone."""
    width, height = size
    title = "Midnight Signals (Extended Mix) feat. Somebody Else and Friends of Friends"
    word = "Supercalifragilisticexpialidocious" * 3
    short = min(width, height)
    roomy = EndCard(Branding(artist="Nova", title="Night"), width, height, 30.0, 90)
    assert [(t.fitted.lines, t.fitted.size_px) for t in roomy.layout.texts] == [
        ((text,), round(1.5 * rel * short)) for text, rel in (("Nova", ARTIST_SIZE), ("Night", TITLE_SIZE), ("Out now", CALL_TO_ACTION_SIZE))
    ]  # no cover: the texts are 1.5x as large
    card = EndCard(Branding(artist=word, title=title), width, height, 30.0, 90)
    artist, fitted_title, cta = (t.fitted for t in card.layout.texts)
    assert cta.lines == ("Out now",)
    assert len(fitted_title.lines) > 1 and " ".join(fitted_title.lines) == title
    assert len(artist.lines) > 1 and "".join(artist.lines) == word
    for t in card.layout.texts:
        assert t.fitted.size_px >= min_text_px(short), t.role
        assert card.layout.safe.contains(t.ink), t.role
        assert _widest_line_px(t.fitted.multiline, t.fitted.size_px) <= card.layout.safe.width, t.role


@pytest.mark.parametrize("size", [(1080, 1920), (1920, 1080), (1080, 1080), (144, 256), (256, 144)])
def test_layout_stays_in_the_safe_zone_and_draws_whole_text(tmp_path, size):
    """Every box inside the safe zone; and the text on the composed card is all there: its lit pixels
    match Pillow's own bounding box of the same text (descenders and accents included), none outside."""
    width, height = size
    branding = Branding(cover=str(_cover(tmp_path / "c.png", 1200)), artist="Jógvan & the Quays", title="Gypsy Jazz, Reprojected (Extended Mix)")
    card = EndCard(branding, width, height, 30.0, 90)
    layout = card.layout
    assert layout.cover is not None and layout.safe.contains(layout.cover)
    assert [t.role for t in layout.texts] == ["artist", "title", "call_to_action"]
    boxes = [layout.cover, *(t.ink for t in layout.texts)]
    for a in range(len(boxes)):
        assert layout.safe.contains(boxes[a])
        for b in range(a + 1, len(boxes)):  # nothing overlaps
            A, B = boxes[a], boxes[b]
            assert A.x1 <= B.x0 or B.x1 <= A.x0 or A.y1 <= B.y0 or B.y1 <= A.y0, (A, B)
    # the cover is drawn at its slot size from a 1200 px image: downscaled, never upscaled
    assert max(layout.cover.width, layout.cover.height) <= 1200

    # without a cover, on black: the lit pixels are the text, and they are exactly where the layout says
    bare = EndCard(branding.model_copy(update={"cover": None}), width, height, 30.0, 90)
    still = bare.still(np.zeros((height, width, 3), np.uint8)).max(axis=2)
    lit = still > 40
    inside = np.zeros_like(lit)
    for t in bare.layout.texts:
        inside[t.ink.y0 : t.ink.y1, t.ink.x0 : t.ink.x1] = True
        rows, cols = np.nonzero(lit[t.ink.y0 : t.ink.y1, t.ink.x0 : t.ink.x1])
        # the same text drawn by Pillow alone on a roomy canvas: its lit box has the same size
        f = load_font(None, t.fitted.size_px)
        pad = 2 * t.fitted.size_px
        alone = Image.new("L", (t.ink.width + 2 * pad, t.ink.height + 2 * pad))
        ImageDraw.Draw(alone).multiline_text((pad, pad), t.fitted.multiline, fill=255, font=f, spacing=max(1, round(0.2 * t.fitted.size_px)), align="center" if height >= width else "left")
        a_rows, a_cols = np.nonzero(np.asarray(alone) > 40 * 255 / max(t.colour))
        assert (a_rows.max() - a_rows.min() + 1, a_cols.max() - a_cols.min() + 1) == pytest.approx((t.ink.height, t.ink.width), abs=1), t.role
        assert rows.min() <= 1 and cols.min() <= 1 and rows.max() >= t.ink.height - 2 and cols.max() >= t.ink.width - 2, t.role
    assert not lit[~inside].any()


def test_small_cover_is_not_enlarged(tmp_path):
    branding = Branding(cover=str(_cover(tmp_path / "small.png", 100)), artist="A")
    with pytest.warns(UserWarning, match=r"small.png: the cover is 100x100 px, smaller than the end card's \d+ px slot: drawn at its own size"):
        card = EndCard(branding, 1280, 720, 30.0, 90)
    assert (card.layout.cover.width, card.layout.cover.height) == (100, 100)


def test_yuv_conversion_inverts_the_encoder():
    import torch

    from mvgen.media.pixels import encode_pixels, yuv420p_to_rgb

    rng = np.random.default_rng(0)
    rgb = rng.random((3, 2, 16, 24)).astype(np.float32)
    rgb = rgb.repeat(2, axis=2).repeat(2, axis=3)[:, :, :16, :24]  # flat 2x2 blocks: chroma subsampling loses nothing
    planes = encode_pixels(torch.from_numpy(rgb), "yuv420p", 24, 16).numpy()
    back = yuv420p_to_rgb(planes, 24, 16).astype(float)
    np.testing.assert_allclose(back, rgb.transpose(1, 2, 3, 0) * 255, atol=2.5)


def test_bad_cover_fails_before_rendering(tmp_path):
    (tmp_path / "art.png").write_text("not an image")
    with pytest.raises(MvgenError, match="art.png: not a readable image"):
        EndCard(Branding(cover=str(tmp_path / "art.png")), 256, 144, 15.0, 15)


# --------------------------------------------------------------------------- renders

FPS = 12.0
WINDOW = (2.0, 7.0)  # 5 s: 60 frames, a card of min(1 s, a fifth of 5 s) = 12 frames
CHUNK = 24
W, H = 256, 144


@pytest.fixture(scope="module")
def track(house_wav):
    return house_wav


@pytest.fixture(scope="module")
def analysis(track):
    from mvgen.analysis.track import analyze

    return analyze(track)


@pytest.fixture(scope="module")
def cover(tmp_path_factory):
    return _cover(tmp_path_factory.mktemp("cover") / "cover.png")


def _settings(branding: Branding, **updates):
    from mvgen.settings import RenderSettings

    return RenderSettings(size=H, fps=FPS, start_s=WINDOW[0], end_s=WINDOW[1], detail=0.5, compile=False, chunk_frames=CHUNK, branding=branding, **updates)


def _branding(cover, **updates):
    return Branding(**{"cover": str(cover), "artist": "Nova Kline", "title": "Midnight Signals", "end_card_s": 1.0, **updates})


#: The ffmpeg that rendered the plain video (filled by the fixture).
PLAIN_FFMPEG: list[str] = []


@pytest.fixture(scope="module")
def plain(track, analysis, cover, tmp_path_factory):
    """The same excerpt with the same branding and the card turned off (``end_card=False``), rendered
    with the default ffmpeg: the video the card's render must show before the card and under its fade
    (the overlay's artist and title included: it is drawn under the fade too)."""
    from mvgen.media.ffmpeg import ffmpeg_exe
    from mvgen.pipeline import render_video

    PLAIN_FFMPEG[:] = [ffmpeg_exe()]
    return render_video(track, tmp_path_factory.mktemp("plain") / "plain.mp4", _settings(_branding(cover), end_card=False), analysis=analysis)


def _decoded_audio(video, sr: int):
    """The video's audio, mono at ``sr`` Hz (the file's is 48 kHz stereo), from its first sample (the encoder's priming included)."""
    from mvgen.media.ffmpeg import ffmpeg_exe

    raw = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(video), "-map", "0:a:0", "-f", "f32le", "-ac", "1", "-ar", str(sr), "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32)


def _ffprobe(video) -> dict:
    args = ["/usr/bin/ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames,duration,sample_rate", "-of", "json", str(video)]
    return {s["codec_type"]: s for s in json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)["streams"]}


@pytest.mark.slow
def test_render_ends_with_the_card(track, analysis, cover, plain, tmp_path, ffmpeg):
    from mvgen.pipeline import render_video
    from tests.videos import rgb_frames

    video = render_video(track, tmp_path / "card.mp4", _settings(_branding(cover)), analysis=analysis)
    n_card = 12
    fade = int(np.ceil(FADE_S * FPS))

    # the length: as many frames as the audio lasts, the card included
    info = probe_video(video)
    assert (info.width, info.height, info.n_frames, info.colour) == (W, H, 60, "tv, bt709")
    if os.path.isfile("/usr/bin/ffprobe"):
        streams = _ffprobe(video)
        assert int(streams["video"]["nb_read_frames"]) == 60
        assert abs(float(streams["audio"]["duration"]) - 60 / FPS) <= 1.0 / FPS, streams

    frames, before = rgb_frames(video, W, H), rgb_frames(plain, W, H)
    body = 60 - n_card
    # the body is the plain video (re-encoded only where its chunks end differently)
    assert np.abs(frames[:body] - before[:body]).mean() < 2.0
    # the card: the cover at its place in the last frames (the card as laid out for this frame)
    layout = EndCard(_branding(cover), W, H, FPS, n_card).layout
    c = layout.cover
    quadrant = frames[-1, c.y0 + 2 : c.y0 + c.height // 2 - 2, c.x0 + 2 : c.x0 + c.width // 2 - 2].reshape(-1, 3).mean(0)
    assert np.abs(quadrant - (245, 140, 30)).max() < 12, quadrant  # the orange quadrant, top left
    quadrant = frames[-1, c.y0 + c.height // 2 + 2 : c.y1 - 2, c.x0 + 2 : c.x0 + c.width // 2 - 2].reshape(-1, 3).mean(0)
    assert np.abs(quadrant - (50, 20, 70)).max() < 12, quadrant  # the purple one, bottom left
    # the fade: each card frame is (1 - a) video + a card, a rising linearly from 0 to 1 over FADE_S,
    # with the video still moving underneath (a measured by least squares against the plain render's frames)
    card = frames[-1]
    alphas = []
    for i in range(n_card):
        video_frame = before[body + i]
        d = (card - video_frame).ravel()
        alphas.append(float(np.dot(frames[body + i].ravel() - video_frame.ravel(), d) / np.dot(d, d)))
    expected = np.minimum(np.arange(n_card) / (FADE_S * FPS), 1.0)
    assert np.abs(np.array(alphas) - expected).max() < 0.05, np.round(alphas, 3)
    assert np.abs(frames[body] - before[body]).mean() < 3.0  # the card's first frame is the video
    assert np.abs(frames[body + fade :] - card).mean(axis=(1, 2, 3)).max() < 1.5  # then the card holds still
    # the audio: the track's excerpt through AAC, whole and in sync; with the same ffmpeg, the plain render's sample for sample
    import soundfile

    import soxr

    from mvgen.media.assemble import AAC_PRIMING_SAMPLES, AUDIO_SAMPLE_RATE_HZ

    source, sr = soundfile.read(track, dtype="float32")
    # the file has no edit list: the encoder's priming plays first, then the track from that much later
    rate, priming = AUDIO_SAMPLE_RATE_HZ, AAC_PRIMING_SAMPLES
    audio = _decoded_audio(video, rate)[priming:]
    excerpt = soxr.resample(source[int(WINDOW[0] * sr) : int(WINDOW[1] * sr)], sr, rate)[priming:]
    # (ffmpeg 5.1 decodes the last AAC frame whole, up to 1024 samples of padding: the container's duration is exact, see above)
    assert 0 <= len(audio) - len(excerpt) < 1024, (len(audio), len(excerpt))
    audio = audio[: len(excerpt)]
    snr_db = 10 * np.log10(np.sum(excerpt**2) / np.sum((audio - excerpt) ** 2))
    # AAC at 48 kHz of a 22.05 kHz track (resampled by ffmpeg, compared with soxr's resampling), with the
    # 15 ms cut fades at both ends: 18.8 dB measured; the sync itself to the sample, by cross-correlation
    assert snr_db > 15.0, snr_db
    assert abs(audio_lag_samples(video, track, WINDOW[0])) <= 1
    if os.path.realpath(ffmpeg) == os.path.realpath(PLAIN_FFMPEG[0]):
        np.testing.assert_array_equal(audio, _decoded_audio(plain, rate)[priming : priming + len(excerpt)])


@pytest.mark.slow
def test_no_card_when_turned_off(track, analysis, cover, plain, tmp_path):
    from mvgen.pipeline import render_video
    from tests.videos import rgb_frames

    before = rgb_frames(plain, W, H)
    # the card turned off (end_card=False, as Spotify Canvas): no cover where the card would show it
    c = EndCard(_branding(cover), W, H, FPS, 12).layout.cover
    quadrant = before[-1, c.y0 + 2 : c.y0 + c.height // 2 - 2, c.x0 + 2 : c.x0 + c.width // 2 - 2].reshape(-1, 3).mean(0)
    assert np.abs(quadrant - (245, 140, 30)).max() > 40, quadrant  # not the cover's orange quadrant
    # --end-card 0: the same video, frame for frame
    video = render_video(track, tmp_path / "zero.mp4", _settings(_branding(cover, end_card_s=0.0)), analysis=analysis)
    assert probe_video(video).n_frames == 60
    np.testing.assert_array_equal(rgb_frames(video, W, H), before)


@pytest.mark.slow
def test_resumed_render_with_a_card_is_the_same(track, analysis, cover, tmp_path):
    from mvgen.pipeline import render_video
    from tests.videos import gray_frames

    settings = _settings(_branding(cover))
    whole = render_video(track, tmp_path / "whole.mp4", settings, analysis=analysis)
    for after in (30, 55):  # in the body's second chunk; in the card (frames 48-59)
        out = tmp_path / f"resumed{after}.mp4"
        progress = []

        def interrupt(done, total):
            progress.append(done)
            if done >= after:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            render_video(track, out, settings, on_progress=interrupt, analysis=analysis)
        work = out.with_name(f".{out.name}.work")
        assert not out.exists() and not list(work.glob("*.part*"))
        resumed = render_video(track, out, settings, resume=True, analysis=analysis)
        np.testing.assert_array_equal(gray_frames(resumed, W, H), gray_frames(whole, W, H))


@pytest.mark.slow
def test_cli_end_card_options(track, cover, tmp_path, run_cli):
    failed = run_cli("render", track, "--out", tmp_path / "x.mp4", "--palette-from-cover")
    assert failed.returncode == 1 and failed.stderr.strip().splitlines() == ["mvgen: error: --palette-from-cover: needs a cover image (cover, --cover IMAGE): the release artwork whose colours the video takes"]
    failed = run_cli("render", track, "--out", tmp_path / "x.mp4", "--end-card", "-1")
    assert failed.returncode == 1 and failed.stderr.strip() == "mvgen: error: --end-card: Input should be greater than or equal to 0"
    assert not list(tmp_path.glob("*.mp4"))
