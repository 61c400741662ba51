"""Metadata storage: SQLAlchemy 2 (async) models, Alembic migrations, data access."""
