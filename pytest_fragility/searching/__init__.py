"""The fragility search (`pf.search`): perturbation axes, the search along them, the example database.

`axes` (what can change, and how far), `points` (one strength = one audit), `bisect` (bracket,
then bisect along a ray), `examples` (counterexamples saved for replay), `result`
(`SearchResult`), `engine` (orchestration). Importing the package loads nothing heavy:
`axes` is torch-free, so decorators validate axis names at import.
"""
