"""Genre-model inference: checkpoints, the torch classifier and its numpy twin, window predictions.

- :mod:`~mvgen.classify.checkpoints`: ``config.json`` + ``model.safetensors`` from a folder or the Hub
- :mod:`~mvgen.classify.classifier`: the torch model (nnAudio front end; GPU when there is one)
- :mod:`~mvgen.classify.cpu_classifier`: the same network in numpy, for CPU analysis without torch
- :mod:`~mvgen.classify.predictions`: per-window probabilities, confidence and the smoothed profile

Nothing is imported here: the torch model and the numpy one are each loaded only where used.
"""
