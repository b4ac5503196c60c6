"""Merging deltas and searching the merge weights, in layers that import only downwards.

:mod:`.methods` (the merge methods) ← :mod:`.lora` (loading deltas) ← :mod:`.trial` (a merge applied on the
resident model, scored and restored) ← :mod:`.export` (saving a merge) and :mod:`.search` (the Optuna search)
← :mod:`.results` (tables, report, the best merge exported) ← :mod:`.job` (a merge job's config, run: it calls
the search and hands the finished study to the results).
"""
