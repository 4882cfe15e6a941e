"""Alembic's environment for the bot's database: always run from the code, on a connection it is given.

``bot.adapters.sql_migrations.upgrade`` (``strategy-bot migrate``, and the start on a new
database) passes the open connection in ``config.attributes``; there is no alembic.ini and
no URL here, so nothing of the database's address or password passes through Alembic.

Alembic runs this file by its path (as the module ``env_py``); imported as a module of the
package (a scan of every module, as the extras test does) it does nothing.
"""

from __future__ import annotations

from alembic import context

from bot.adapters.sql_schema import metadata

if __name__ != "bot.adapters.sql_migrations.env":
    context.configure(connection=context.config.attributes["connection"], target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
