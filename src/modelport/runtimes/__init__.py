"""Runtimes: where registered models do their work (serving, batch, stream, edge)."""
