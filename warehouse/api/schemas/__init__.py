"""The shapes of /api/v1: what a body may hold and what an answer holds. Validation, answers and the OpenAPI
document are all read from these classes."""
