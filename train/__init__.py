"""xnorflow.train."""
