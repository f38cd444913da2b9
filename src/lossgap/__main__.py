"""`python -m lossgap …` (and `torchrun -m lossgap …`) runs the CLI."""

from lossgap.cli import main

main()
