"""Real local servers the tests talk to: Redis, PostgreSQL, SMTP."""
