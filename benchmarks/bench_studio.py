"""How quickly the studio answers: frame latency over HTTP, and from opening the page to the first frame.

    python benchmarks/bench_studio.py [--track FILE] [--frames 40] [--width 640]

A real server (``mvgen.studio`` on uvicorn, port chosen free) over a track (default: a 3-minute synthetic
deep-house track) whose analysis is cached first, as when a user reopens the studio. Printed: the time
from starting the server to its first frame (the page's first request), then the latency of
``GET /api/frame`` at ``--width`` (16:9) for frames at random times after warm-up, p50 and p95, and the time
to draw and encode "play 4 bars" at 320x180.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--track", type=Path, default=None)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--width", type=int, default=640)
    args = parser.parse_args()
    import uvicorn

    from mvgen import synth
    from mvgen.analysis.track import analyze
    from mvgen.media.audio import write_audio
    from mvgen.studio import Studio, StudioOptions, create_app

    work = Path(tempfile.mkdtemp())
    track = args.track
    if track is None:
        audio, _ = synth.render(synth.default_arrangement("deep_house", seed=3), seed=3, sr=22050, stereo=False)
        track = work / "deep.wav"
        write_audio(track, np.asarray(audio, np.float32), 22050)
    analyze(track)  # cached, as on a second visit
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = StudioOptions(tracks=(track,), styles_dir=work / "styles", port=port)
    t0 = time.perf_counter()
    studio = Studio(options, [analyze(track)])
    server = uvicorn.Server(uvicorn.Config(create_app(studio), host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)

    def frame(t: float) -> float:
        start = time.perf_counter()
        url = f"http://127.0.0.1:{port}/api/frame?t={t:.3f}&width={args.width}&token={options.token}"
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
        return time.perf_counter() - start

    frame(0.0)
    first_s = time.perf_counter() - t0
    duration = studio.analyses[0].duration_s
    rng = np.random.default_rng(0)
    for t in rng.uniform(0, duration, 3):
        frame(t)  # warm-up
    latencies = np.array([frame(t) for t in rng.uniform(0, duration, args.frames)]) * 1000
    print(f"track {track.name} ({duration:.0f} s), frames {args.width}x{round(args.width * 9 / 16)}")
    print(f"server start (analysis cached) to first frame: {first_s:.2f} s")
    print(f"frame latency over HTTP after warm-up ({args.frames} frames): p50 {np.percentile(latencies, 50):.0f} ms, p95 {np.percentile(latencies, 95):.0f} ms")
    clips = []
    for t in rng.uniform(0, duration - 10, 3):
        start = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/clip?t={t:.3f}&width=320&token={options.token}", timeout=120) as response:
            response.read()
        clips.append(time.perf_counter() - start)
    print(f"'play 4 bars' at 320x180 (drawn and encoded): median {np.median(clips):.2f} s of 3")
    server.should_exit = True


if __name__ == "__main__":
    main()
