"""``python -m evoforge.cli`` (also ``accelerate launch -m evoforge.cli train ...``)."""

from evoforge.cli import main

main()
