"""WSGI entry point: `gunicorn -w 1 --threads 100 wsgi:app` (one worker per process)."""

from forum import create_app

app = create_app()
