"""Delta merge methods (:mod:`.methods`), the resident trial path (:mod:`.trial`) and the merge-weight search."""
