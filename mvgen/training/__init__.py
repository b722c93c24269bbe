"""Training and evaluation of genre models (``mvgen train``, ``mvgen eval``); nothing at analysis
or render time imports this stage.

- :mod:`~mvgen.training.train`: training loop, head-only training, calibration, resumable state
- :mod:`~mvgen.training.labels`: HouseX-v2 folders and label CSVs -> labelled clips
- :mod:`~mvgen.training.metrics`: the paper's metrics, soft metrics and calibration
- :mod:`~mvgen.training.degrade`: real-release degradations (mastering, codecs, reverb, EQ, noise)
- :mod:`~mvgen.training.negatives`: out-of-scope examples (non-music, other genres)

Nothing is imported here: training imports torch.
"""
