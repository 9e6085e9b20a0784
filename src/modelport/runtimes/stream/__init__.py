"""Streaming inference and online learning: consume events from a broker,
predict, publish, learn from delayed labels, watch drift, checkpoint."""
