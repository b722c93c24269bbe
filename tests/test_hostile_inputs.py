"""Hostile and odd input files (cover, logo, font, lyrics): each is refused up front, before any
analysis or rendering, with one line naming the file and the problem (and the limit it broke)."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mvgen.brand.branding import Branding
from mvgen.brand.lyrics import MAX_LYRIC_LINES, MAX_LYRICS_BYTES, load_lyrics
from mvgen.errors import MvgenError
from mvgen.media.images import MAX_IMAGE_PIXELS, open_image


def bomb_png(path, width: int, height: int):
    """A ``width`` x ``height`` 1-bit black PNG written row by row through zlib: 20000x20000 is ~50 kB on
    disk and 400 million pixels (1.6 GB as RGBA) decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the zero bits of one row
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def sparse_file(path, n_bytes: int):
    """A file of ``n_bytes`` zero bytes that takes no disk space (a hole)."""
    with open(path, "wb") as f:
        f.truncate(n_bytes)
    return path


def _refused(branding: Branding, path) -> str:
    """The problem :meth:`Branding.check` reports, checked to name ``path``."""
    with pytest.raises(MvgenError) as info:
        branding.check()
    assert info.value.path == str(path) and str(info.value).startswith(f"{path}: ")
    return info.value.problem


@pytest.mark.parametrize("role", ["cover", "logo"])
def test_a_decompression_bomb_png_is_refused_naming_its_size_and_the_limit(tmp_path, role):
    bomb = bomb_png(tmp_path / "bomb.png", 20000, 20000)
    assert bomb.stat().st_size < 1_000_000  # small on disk: the size is what it decodes to
    problem = _refused(Branding(**{role: str(bomb)}), bomb)
    assert f"{20000 * 20000:,} pixels" in problem and f"limit of {MAX_IMAGE_PIXELS:,}" in problem, problem


def test_a_picture_between_our_limit_and_pillows_is_refused_with_its_dimensions(tmp_path):
    # 9000x9000 = 81 MP: under Pillow's own error (179 MP) and warning (89 MP), over ours: its header says the size
    big = bomb_png(tmp_path / "big.png", 9000, 9000)
    with pytest.raises(MvgenError, match=rf"big\.png: the picture is 9000x9000 = {9000 * 9000:,} pixels, over the limit of {MAX_IMAGE_PIXELS:,}"):
        open_image(big)
    fine = bomb_png(tmp_path / "fine.png", 4000, 3000)  # artwork size: decoded, whole
    assert open_image(fine).size == (4000, 3000)


@pytest.mark.parametrize("svg, size", [
    ('<svg xmlns="http://www.w3.org/2000/svg" width="2000000" height="2000000"><rect width="9" height="9"/></svg>', "2000000x2000000"),
    ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100000 100000"><rect width="9" height="9"/></svg>', "100000x100000"),
    ('<svg xmlns="http://www.w3.org/2000/svg" width="3000mm" height="3000mm"><rect width="9" height="9"/></svg>', "11339x11339"),
])
def test_an_svg_logo_declaring_a_huge_size_is_refused_before_resvg_draws_it(tmp_path, svg, size):
    # resvg aborts the whole process (a Rust panic, no Python exception) on a size it cannot allocate
    logo = tmp_path / "logo.svg"
    logo.write_text(svg)
    problem = _refused(Branding(logo=str(logo)), logo)
    assert f"the picture is {size} = " in problem and f"limit of {MAX_IMAGE_PIXELS:,}" in problem, problem


def test_a_billion_laughs_svg_is_refused(tmp_path):
    entities = "".join(f'<!ENTITY l{k + 1} "{("&l" + str(k) + ";") * 10}">\n' for k in range(9))
    logo = tmp_path / "laughs.svg"
    logo.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE svg [\n<!ENTITY l0 "lol">\n{entities}]>\n'
                    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&l9;</text></svg>')
    assert _refused(Branding(logo=str(logo)), logo).startswith("not a readable logo (limit on input amplification")


def test_a_truncated_jpeg_cover_is_refused_up_front(tmp_path):
    whole = tmp_path / "whole.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)).save(whole, quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    Branding(cover=str(whole)).check()
    # its header is intact: only decoding it all finds the missing half, which the end card would do minutes later
    assert _refused(Branding(cover=str(cut)), cut).startswith("not a readable image (image file is truncated")


def test_fonts_that_are_not_fonts(tmp_path):
    text = tmp_path / "notes.ttf"
    text.write_text("not a font")
    huge = sparse_file(tmp_path / "huge.ttf", 100 * 2**20)
    for font in (text, huge):
        assert _refused(Branding(font=str(font)), font).startswith("not a readable font"), font


def test_lyrics_over_the_size_limit_are_refused_unread(tmp_path):
    huge = sparse_file(tmp_path / "huge.lrc", 100 * 2**20)
    assert _refused(Branding(lyrics=str(huge)), huge) == f"the lyrics file is 100.0 MiB, over the limit of {MAX_LYRICS_BYTES / 2**20:.1f} MiB"
    # an LRC of 100,000 lines (12 bytes each) is over the size limit too
    many = tmp_path / "many.lrc"
    many.write_text("".join(f"[{k // 6000:02d}:{k % 6000 / 100:05.2f}]a\n" for k in range(100_000)))
    with pytest.raises(MvgenError, match=r"many\.lrc: the lyrics file is 1\.\d MiB, over the limit of 1\.0 MiB"):
        load_lyrics(many)


def test_lyrics_with_more_lines_than_a_render_can_draw_are_refused(tmp_path):
    n = MAX_LYRIC_LINES + 1
    lines = "".join(f"[{k // 60:02d}:{k % 60:02d}.00]line {k}\n" for k in range(n))
    many = tmp_path / "many.lrc"
    many.write_text(lines)
    assert many.stat().st_size < MAX_LYRICS_BYTES
    with pytest.raises(MvgenError, match=rf"many\.lrc: {n:,} timed lyric lines, over the limit of {MAX_LYRIC_LINES:,}"):
        load_lyrics(many)
    (tmp_path / "enough.lrc").write_text("".join(lines.splitlines(keepends=True)[:MAX_LYRIC_LINES]))
    assert len(load_lyrics(tmp_path / "enough.lrc")) == MAX_LYRIC_LINES


def test_non_utf8_lyrics(tmp_path):
    latin = tmp_path / "latin.lrc"
    latin.write_bytes("[00:01.00]caf\xe9\n".encode("latin-1"))
    with pytest.raises(MvgenError, match=r"latin\.lrc: not UTF-8 text \(invalid continuation byte at byte 13\)"):
        load_lyrics(latin)


ROLES = {"cover": ("cover.png", "image file"), "logo": ("logo.png", "image file"), "font": ("font.ttf", "font file"), "lyrics": ("words.lrc", "lyrics file")}


@pytest.mark.parametrize("role", list(ROLES))
def test_empty_files_and_folders(tmp_path, role):
    name, what = ROLES[role]
    empty = tmp_path / name
    empty.write_bytes(b"")
    assert _refused(Branding(**{role: str(empty)}), empty) == f"the {what} is empty (0 bytes)"
    folder = tmp_path / "folder" / name
    folder.mkdir(parents=True)
    assert _refused(Branding(**{role: str(folder)}), folder) == f"is a folder, not {'an' if what[0] == 'i' else 'a'} {what}"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file whatever its mode")
@pytest.mark.parametrize("role", list(ROLES))
def test_files_without_read_permission(tmp_path, role):
    name, what = ROLES[role]
    locked = tmp_path / name
    locked.write_bytes(b"x")
    locked.chmod(0)
    assert _refused(Branding(**{role: str(locked)}), locked) == f"cannot read the {what} (permission denied)"


@pytest.mark.slow
@pytest.mark.parametrize("flag, make", [
    ("--cover", lambda tmp: bomb_png(tmp / "bomb.png", 20000, 20000)),
    ("--logo", lambda tmp: (tmp / "wide.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="1000"/>') and tmp / "wide.svg"),
    ("--lyrics", lambda tmp: sparse_file(tmp / "huge.lrc", 100 * 2**20)),
])
def test_the_cli_says_one_line_and_writes_nothing(tmp_path, run_cli, flag, make):
    path = make(tmp_path)
    result = run_cli("render", tmp_path / "no-track-needed.wav", flag, path, "-o", tmp_path / "out" / "v.mp4")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith(f"mvgen: error: {path}: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout and not (tmp_path / "out").exists()
