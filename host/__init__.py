"""xnorflow.host."""
