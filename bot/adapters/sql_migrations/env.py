"""Alembic's environment for the bot's database: always run from the code, on a connection it is given.

``bot.adapters.sql_migrations.upgrade`` (``strategy-bot migrate``, and the start on a new
database) passes the open connection in ``config.attributes``; there is no alembic.ini and
no URL here, so nothing of the database's address or password passes through Alembic.
"""

from __future__ import annotations

from alembic import context

from bot.adapters.sql_schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
