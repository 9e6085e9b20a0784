"""Control: the rollout controller — canary, blue-green and shadow releases of endpoints."""
