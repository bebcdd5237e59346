"""xnorflow.hw_templates."""
