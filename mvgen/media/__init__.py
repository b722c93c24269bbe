"""Media: ffmpeg in and out, and the frame format the renderers draw.

- :mod:`~mvgen.media.audio`: decoding any common audio to mono (libsndfile, else ffmpeg), probing,
  writing, the ffmpeg binary
- :mod:`~mvgen.media.assemble`: frames streamed into H.264 chunks, muxed with the audio; probing a video
- :mod:`~mvgen.media.pixels`: the pixel format contract (BT.709 Y'CbCr 4:2:0) and colour conversions
"""
