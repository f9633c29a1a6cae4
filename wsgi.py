"""WSGI entry point for other WSGI servers; production uses `gunicorn -c deploy/gunicorn.conf.py "forum:create_app()"` (one gevent worker per process)."""

from forum import create_app

app = create_app()
