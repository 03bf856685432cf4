"""The platform node: the city's public credit platform, passive party and gRPC server."""
