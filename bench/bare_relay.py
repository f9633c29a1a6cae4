"""The baseline: a bare Flask-SocketIO relay of the same protocol (no auth, no storage).

Run as a separate process by the benchmarks, in the same async mode and server as the app
it is compared with (`common.BareRelay`):

- threading: `python bench/bare_relay.py PORT threading` (Werkzeug, like `flask serve`
  with FORUM_ASYNC_MODE=threading);
- gevent: `BARE_RELAY_MODE=gevent gunicorn -k gevent -w 1 bare_relay:app`, the worker
  class, worker connections and TCP_NODELAY of deploy/gunicorn.conf.py (gunicorn's worker
  monkey-patches before it imports this module).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading

MODE = os.environ.get("BARE_RELAY_MODE") or (sys.argv[2] if len(sys.argv) > 2 else "threading")
if MODE == "gevent" and __name__ == "__main__":
    from gevent import monkey

    monkey.patch_all()

from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

app = Flask(__name__)
socketio = SocketIO(app, async_mode=MODE)
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


@app.get("/hello")
def hello():
    return "hello"


if __name__ == "__main__":
    socketio.run(app, host="127.0.0.1", port=int(sys.argv[1]), allow_unsafe_werkzeug=True)
