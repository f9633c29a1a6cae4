"""Flask extensions, created unbound and initialised in create_app()."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base whose constraint names are the same on every database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    Model = Base  # what db.Model is, in a form type checkers can follow
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
socketio = SocketIO()

_sqlite_writer = threading.Lock()


@contextmanager
def serial_writes() -> Iterator[None]:
    """Around a short write transaction (first write to commit) on a hot path.

    SQLite lets one writer in at a time; the others poll with a growing sleep (its busy
    handler), so under 8 concurrent senders a few waited seconds while others went
    ahead. On SQLite this process's writers queue on a lock instead (first come, first
    served, no polling); other databases lock rows themselves and skip it.
    """
    if db.engine.dialect.name != "sqlite":
        yield
        return
    with _sqlite_writer:
        yield
