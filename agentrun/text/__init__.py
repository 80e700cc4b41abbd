"""Text utilities every part shares: reading files as text, splitting to token budgets, finding
quotes in a source, counting words."""
