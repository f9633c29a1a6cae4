"""The baseline: a bare Flask-SocketIO relay of the same protocol (no auth, no storage).

Run as a separate process by bench/fanout.py: `python bench/bare_relay.py PORT`.
"""

from __future__ import annotations

import itertools
import sys
import threading

from flask import Flask
from flask_socketio import SocketIO, join_room

app = Flask(__name__)
socketio = SocketIO(app, async_mode="threading")
_ids = itertools.count(1)
_lock = threading.Lock()


@socketio.on("join")
def join(data):
    """Sent by subscribers: join the thread's room."""
    join_room(f"thread:{data['thread_id']}")
    return {"ok": True, "messages": [], "has_more": False}


@socketio.on("message:send")
def send(data):
    """Sent by the sender: relay to the room with an id, acknowledge."""
    with _lock:
        message_id = next(_ids)
    message = {
        "id": message_id,
        "thread_id": data["thread_id"],
        "html": data["body"],
        "client_id": data["client_id"],
    }
    socketio.emit("message:new", {"message": message}, to=f"thread:{data['thread_id']}")
    return {"ok": True, "message": message}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


if __name__ == "__main__":
    socketio.run(app, host="127.0.0.1", port=int(sys.argv[1]), allow_unsafe_werkzeug=True)
