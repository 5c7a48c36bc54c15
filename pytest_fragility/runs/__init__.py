"""Trained networks as `Run` objects: the grid of a family, the cache folder behind it.

`grid.family_runs` expands a family's grid, has an executor train what the model store
lacks and returns lazily loaded runs; `cache.Cache` is the folder holding the model
store (weights and training records) and the value store (computed measure values).
"""
