"""The operations of /api/v1, a router per resource. Thin: read, call one service or selector, answer."""
