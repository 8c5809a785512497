"""Cross-paper outputs: cost curves, trimap accuracy against uniform, the results table."""
