"""Media: ffmpeg in and out, and the frame format the renderers draw.

- :mod:`~mvgen.media.ffmpeg`: the ffmpeg binary, and its input dump (duration, streams) parsed;
  the channel-layout names
- :mod:`~mvgen.media.mp4`: the boxes of an MP4 file (top level, moov, nested)
- :mod:`~mvgen.media.audio`: decoding any common audio to mono (libsndfile, else ffmpeg), probing, writing
- :mod:`~mvgen.media.assemble`: frames streamed into H.264 chunks, muxed with the audio; probing a video;
  a video's window in its track (mp4 tags)
- :mod:`~mvgen.media.pixels`: the pixel format contract (BT.709 Y'CbCr 4:2:0), colour conversions both
  ways, hue rotation
"""
