"""Request and response bodies (pydantic v2). Requests reject unknown fields."""
