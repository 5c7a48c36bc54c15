"""Light declarations, importable without torch or numpy.

What a test declares (families and measures by name, checks, tolerances, perturbations
and data-ladder rungs) is validated here when a test module is imported, so a typo is a
collection error before any training, and a run without ``--fragility`` stays cheap.
"""
