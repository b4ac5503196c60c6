"""airoboros' generation, LangGraph-free: topics (topics.py), the producers of the instructors (producers.py), the
output file (records.py) and its exports (exports.py). The ``instruct`` graph's nodes call these."""
