"""Sample scans of registration materials with ground truth, and the generator that renders them.

``python -m samples.generate --committed`` rebuilds ``samples/scans`` and ``samples/cases``;
``python -m samples.generate --out DIR --cases N`` makes a bigger random set on demand.
"""
