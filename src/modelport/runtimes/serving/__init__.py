"""The online inference server: plain ASGI speaking OIP v2, KServe v1 and MLflow scoring."""
