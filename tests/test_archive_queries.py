"""A forum's archive is read in a fixed number of queries (no N+1): however many threads,
messages, revisions, moderation records, flags and moves it holds. And what it holds is
what it held when each thread was read on its own."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from forum.config import parse_rate_limit
from forum.extensions import db
from forum.models import Principle
from forum.services import exports, moderation
from forum.services import forums as forum_service

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))


def people(make) -> dict[str, Any]:
    return {
        "admin": make.user("admin"),
        "moderator": make.user("moderator"),
        "author": make.user(name="Anna Författare"),
        "other": make.user(name="Bo Svarare"),
        "flaggers": [make.user() for _ in range(3)],
    }


def principle() -> Principle:
    found = db.session.scalar(select(Principle).order_by(Principle.id))
    assert found is not None, "the agreement is seeded"
    return found


def fill(app, make, who, forum, away, secret, title: str) -> dict[str, Any]:
    """A thread of `forum` with everything an archive records of it, and two threads moved
    out of `forum` (one where its readers can follow, one where they cannot)."""
    author, other, admin, moderator = who["author"], who["other"], who["admin"], who["moderator"]
    thread = make.thread(forum=forum, author=author, title=title)
    first = make.message(thread, author, "Första inlägget")
    named = make.message(thread, other, "Svar som namnger grannen", reply_to=first.id)
    flagged = make.message(thread, author, "Flaggat inlägg")
    gone_open = make.thread(forum=forum, author=author, title=f"{title}: till grannen")
    gone_closed = make.thread(forum=forum, author=author, title=f"{title}: till det slutna")
    with app.test_request_context():
        forum_service.edit_message(author, first.id, "Första inlägget, ändrat")
        moderation.hide_message(moderator, named.id, principle().slug, "Namngav en granne")
        for flagger in who["flaggers"]:
            moderation.flag_message(flagger, flagged.id, "spam", "Min anteckning")
        moderation.dismiss_flags(moderator, flagged.id)
        moderation.rename_thread(admin, thread.id, f"{title} i Bergsjön")
        moderation.move_thread(admin, thread.id, secret.id)
        moderation.move_thread(admin, thread.id, forum.id)
        moderation.move_thread(admin, gone_open.id, away.id)
        moderation.move_thread(admin, gone_closed.id, secret.id)
    return {
        "thread": thread,
        "messages": (first, named, flagged),
        "moved": (gone_open, gone_closed),
    }


def archive(app, kind: str, object_id: int) -> dict[str, Any]:
    with app.test_request_context():
        return exports.archive_record(kind, object_id)


def test_a_forum_archive_takes_as_many_queries_for_five_threads_as_for_one(
    app, make, count_queries
):
    who = people(make)
    away = make.forum(title="Grannforum")
    secret = make.forum(title="Slutna rummet", visibility="invite")
    one, five = make.forum(title="Ett"), make.forum(title="Fem")
    fill(app, make, who, one, away, secret, "Tråd")
    for n in range(5):
        fill(app, make, who, five, away, secret, f"Tråd {n}")

    counts = []
    for forum in (one, five):
        db.session.expire_all()
        with count_queries() as counter:
            record = archive(app, "forum", forum.id)["forum"]
        counts.append(counter.count)
    assert len(record["threads"]) == 5 and len(record["moved_out"]) == 10
    assert all(len(t["messages"]) == 3 and len(t["moderation"]) == 5 for t in record["threads"])
    assert counts[0] == counts[1], counts
    # the forum, its threads (with the forum), revisions, decisions, the log's flag
    # entries, flags, the log's thread changes, the forums moved to, the messages (with
    # their authors and principles), the moves out (with the threads' titles) and where to
    assert counts[0] == 11, counts


def timeless(value: Any) -> Any:
    """`value` with every time ("…_at") that is set written "time" (each an ISO UTC time)."""
    if isinstance(value, list):
        return [timeless(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key.endswith("_at") and item is not None:
            assert isinstance(item, str) and item.endswith("Z"), (key, item)
            item = "time"
        out[key] = timeless(item)
    return out


def test_a_forum_archive_records_each_thread_as_before(app, make):
    """The records, key for key and in order, for a small forum: its thread with a revision,
    a decision under a principle, flags and their dismissal, a rename and moves; the threads
    moved out, named only where the forum's readers can follow."""
    who = people(make)
    author, other, admin, moderator = who["author"], who["other"], who["admin"], who["moderator"]
    away = make.forum(title="Grannforum")
    secret = make.forum(title="Slutna rummet", visibility="invite")
    forum = make.forum(title="Arkivforum")
    made = fill(app, make, who, forum, away, secret, "Om parken")
    thread, (first, named, flagged) = made["thread"], made["messages"]
    gone_open, gone_closed = made["moved"]
    rule = principle()
    because = f"{rule.name_sv} ({rule.name_en}): Namngav en granne"

    record = archive(app, "forum", forum.id)["forum"]

    message = {"state": "visible", "hidden_reason": None, "edited_at": None, "deleted_at": None}
    assert timeless(record) == {
        "id": forum.id,
        "slug": forum.slug,
        "title": "Arkivforum",
        "description_html": forum.description_html,
        "visibility": "public",
        "threads": [
            {
                "id": thread.id,
                "title": "Om parken i Bergsjön",
                "forum_id": forum.id,
                "created_at": "time",
                "locked": False,
                "archived": False,
                "moderation": [
                    {
                        "action": "thread.renamed",
                        "reason": "",
                        "actor_id": admin.id,
                        "created_at": "time",
                        "title": "Om parken i Bergsjön",
                    },
                    {
                        "action": "thread.moved",
                        "reason": "from Arkivforum",
                        "actor_id": admin.id,
                        "created_at": "time",
                        "forum_id": forum.id,
                    },
                    {
                        "action": "thread.moved",
                        "reason": "",  # "to Slutna rummet": not for this archive's readers
                        "actor_id": admin.id,
                        "created_at": "time",
                        "forum_id": secret.id,
                    },
                    {
                        "action": "thread.moved",
                        "reason": "",
                        "actor_id": admin.id,
                        "created_at": "time",
                        "forum_id": secret.id,
                    },
                    {
                        "action": "thread.moved",
                        "reason": "to Arkivforum",
                        "actor_id": admin.id,
                        "created_at": "time",
                        "forum_id": forum.id,
                    },
                ],
                "messages": [
                    {
                        **message,
                        "id": first.id,
                        "author": {"id": author.id, "display_name": "Anna Författare"},
                        "html": "<p>Första inlägget, ändrat</p>",
                        "created_at": "time",
                        "edited_at": "time",
                        "reply_to": None,
                        "revisions": [
                            {
                                "html": "<p>Första inlägget</p>",
                                "created_at": "time",
                                "replaced_at": "time",
                            }
                        ],
                        "moderation": [],
                        "flags": [],
                    },
                    {
                        **message,
                        "id": named.id,
                        "author": {"id": other.id, "display_name": "Bo Svarare"},
                        "state": "hidden",
                        "hidden_reason": because,
                        "html": "<p>Svar som namnger grannen</p>",
                        "created_at": "time",
                        "reply_to": first.id,
                        "revisions": [],
                        "moderation": [
                            {
                                "kind": "hide",
                                "reason": because,
                                "actor_id": moderator.id,
                                "created_at": "time",
                                "reversed_at": None,
                            }
                        ],
                        "flags": [],
                    },
                    {
                        **message,
                        "id": flagged.id,
                        "author": {"id": author.id, "display_name": "Anna Författare"},
                        "html": "<p>Flaggat inlägg</p>",
                        "created_at": "time",
                        "reply_to": None,
                        "revisions": [],
                        "moderation": [
                            {
                                "kind": "message.auto_hidden",
                                "reason": "3 flags",
                                "actor_id": None,
                                "created_at": "time",
                                "reversed_at": None,
                            },
                            {
                                "kind": "flags.dismissed",
                                "reason": "3",
                                "actor_id": moderator.id,
                                "created_at": "time",
                                "reversed_at": None,
                            },
                        ],
                        "flags": [
                            {
                                "reason": "spam",
                                "created_at": "time",
                                "resolved_at": "time",
                                "resolution": "dismissed",
                            }
                        ]
                        * 3,
                    },
                ],
            }
        ],
        "moved_out": [
            {
                "id": gone_open.id,
                "title": "Om parken: till grannen",
                "moved_at": "time",
                "to_forum": {"id": away.id, "title": "Grannforum"},
            },
            {
                "id": gone_closed.id,
                "title": "",
                "moved_at": "time",
                "to_forum": {"id": secret.id, "title": ""},
            },
        ],
    }
    # a thread's own archive is the same record
    assert archive(app, "thread", thread.id) == {"thread": record["threads"][0]}
