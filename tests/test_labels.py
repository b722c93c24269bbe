"""Reading HouseX-v2 exports (the miniature example of the real layout) and CSV label files."""

from pathlib import Path

import numpy as np
import pytest

from mvgen.errors import MvgenError
from mvgen.genres import GENRES
from mvgen.training.labels import read_labels

EXAMPLE = Path(__file__).parent / "data" / "housex-example"


def test_housex_example():
    label_set = read_labels(EXAMPLE)
    assert label_set.labels == GENRES
    tracks = label_set.tracks
    assert [t.path.name for t in tracks] == ["3f2a-track_one.wav", "9b1c-track_two.wav"]
    one, two = tracks
    assert one.path.parent == EXAMPLE
    np.testing.assert_allclose(one.weights[[GENRES.index("future_house"), GENRES.index("bass_house")]], [0.7, 0.3])
    assert one.weights.sum() == pytest.approx(1.0)
    assert one.drops_s == [(61.9, 92.1), (152.3, 182.4)]
    # The dataset's "Techno" is tech house.
    assert two.dominant == "tech_house" and two.drops_s == []


def test_folder_of_folders_and_renormalization(tmp_path):
    batch = tmp_path / "batch1"
    batch.mkdir()
    (batch / "partition-1.json").write_text(
        '[{"data": {"audio": "C:\\\\upload\\\\a.mp3"}, "annotations": [{"result": ['
        '{"from_name": "Deep House", "value": {"number": 0.6}}, {"from_name": "Bigroom", "value": {"number": 0.6}}]}]}]'
    )
    (tmp_path / "notes").mkdir()
    (track,) = read_labels(tmp_path).tracks
    assert track.path == batch / "a.mp3"
    assert track.weights[GENRES.index("deep_house")] == pytest.approx(0.5)


def test_csv(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("path," + ",".join(GENRES) + ",drop_start_s,drop_end_s\nsongs/a.wav,0,0,0,0,1,0,0,0,30,60\n/abs/b.wav,1,1,0,0,0,0,0,0\n")
    a, b = read_labels(csv).tracks
    assert a.path == tmp_path / "songs" / "a.wav" and a.dominant == "deep_house" and a.drops_s == [(30.0, 60.0)]
    assert b.path == Path("/abs/b.wav") and b.weights[0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "text, message",
    [
        ("a.wav,1,0\n", "line 1: expected path, progressive_house, .*slap_house"),
        ("path,deep_house,bigroom\na.wav,1\n", "line 2: expected path, deep_house, bigroom"),
        ("a.wav,0,0,0,0,0,0,0,0\n", "positive sum"),
        ("path,a,b\na.wav,x,0\n", "line 2: weights must be numbers"),
        ("path,only_one\na.wav,1\n", "line 1: a taxonomy needs at least 2 classes"),
    ],
)
def test_bad_csv_names_file_and_line(tmp_path, text, message):
    csv = tmp_path / "bad.csv"
    csv.write_text(text)
    with pytest.raises(MvgenError, match=message) as info:
        read_labels(csv)
    assert str(info.value).startswith(str(csv))


def test_unknown_class(tmp_path):
    (tmp_path / "partition.json").write_text('[{"data": {"audio": "a.wav"}, "annotations": [{"result": [{"from_name": "Trance", "value": {"number": 1}}]}]}]')
    with pytest.raises(MvgenError, match="Trance"):
        read_labels(tmp_path)


def test_csv_with_its_own_classes_soft_and_hard(tmp_path):
    soft = tmp_path / "soft.csv"
    soft.write_text("path,Drum & Bass,hardstyle,reggae,other,drop_start_s,drop_end_s\na.wav,0.6,0.4,0,0,10,40\nnoise.wav,0,0,0,1\n")
    label_set = read_labels(soft)
    assert label_set.labels == ("drum_and_bass", "hardstyle", "reggae") and label_set.outputs[-1] == "other"
    a, noise = label_set.tracks
    np.testing.assert_allclose(a.weights, [0.6, 0.4, 0.0, 0.0])
    assert a.drops_s == [(10.0, 40.0)] and noise.dominant == "other" and noise.drops_s == []

    hard = tmp_path / "hard.csv"
    hard.write_text("path,label\na.wav,Reggae\nb.wav,drum-and-bass\nc.wav,other\nd.wav,reggae\n")
    label_set = read_labels(hard)
    assert label_set.labels == ("reggae", "drum_and_bass")
    assert [t.dominant for t in label_set.tracks] == ["reggae", "drum_and_bass", "other", "reggae"]


def test_class_names_are_checked(tmp_path):
    csv = tmp_path / "dup.csv"
    csv.write_text("path,Reggae,reggae\na.wav,1,0\n")
    with pytest.raises(MvgenError, match="distinct"):
        read_labels(csv)


def test_checking_the_audio_names_the_first_bad_file(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "a.wav", np.zeros(22050, np.float32), 22050)
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label\na.wav,reggae\nmissing.wav,rock\n")
    assert len(read_labels(csv).tracks) == 2  # only read: the audio is not opened
    with pytest.raises(MvgenError) as info:
        read_labels(csv, check_audio=True)
    assert str(info.value) == f"{tmp_path / 'missing.wav'}: file not found"
    csv.write_text("path,label\na.wav,reggae\na.wav,rock\n")
    assert [t.path.name for t in read_labels(csv, check_audio=True).tracks] == ["a.wav", "a.wav"]
