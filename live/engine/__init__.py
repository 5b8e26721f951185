"""The live engine: the tick, event detection, evaluation in virtual time."""
