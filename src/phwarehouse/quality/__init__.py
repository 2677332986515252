"""The quality gate: checks on raw loads and candidate marts, and publication of the marts."""
