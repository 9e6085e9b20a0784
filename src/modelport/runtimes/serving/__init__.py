"""The online inference server: OIP v2, KServe v1 and MLflow scoring, on its own HTTP/1.1
server (h1) or under any ASGI server."""
