"""xnorflow.compile."""
