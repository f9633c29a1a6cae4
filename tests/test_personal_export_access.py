""" "Download my data" gives the person their own data, not what they may no longer read
(a review's findings): a thread's title renamed after they lost it, the invite-only forum
it was moved into, a draft round a colleague renamed after its creator left the department,
a followed action a moderator hid, and an action title a moderator redacted (kept for admins
only, as a redacted message's text is). What they wrote themselves is there: the reason of a
decline they made."""

from __future__ import annotations

import json

from consultation_support import make_round, round_input
from test_follow_up import propose, world  # noqa: F401 — the follow-up world fixture

from forum import policy
from forum.services import admin as admin_service
from forum.services import consultations, follow_up, moderation, privacy
from forum.services import forums as forum_service

GONE = "a thread you can no longer read"
ROUND_GONE = "a round you can no longer read"


def exported(app, person) -> dict:
    with app.test_request_context():
        return privacy.personal_data(person)


def test_a_thread_renamed_after_the_person_lost_it_is_listed_without_its_new_title(app, make):
    official, member = make.user("official"), make.user()
    member.locale = "en"
    forum = make.forum(owner=official, visibility="invite", members=[member], title="Hemligt")
    thread = make.thread(forum=forum, author=member, title="Min tråd")
    with app.test_request_context():
        forum_service.change_forum_people(official, forum, member.email, "member", False)
        moderation.rename_thread(make.user("admin"), thread.id, "Omorganisation: 40 tjänster")
        assert not policy.can_view_thread(member, thread)
    data = exported(app, member)
    assert data["threads_started"] == [
        {
            "id": thread.id,
            "title": GONE,
            "forum_id": None,
            "forum": None,
            "created_at": data["threads_started"][0]["created_at"],
        }
    ]
    dump = json.dumps(data, ensure_ascii=False)
    assert "40 tjänster" not in dump and "Hemligt" not in dump


def test_a_thread_moved_into_an_invite_only_forum_does_not_name_that_forum(app, make):
    official, member = make.user("official"), make.user()
    member.locale = "en"
    public = make.forum(owner=official, title="Öppet forum")
    secret = make.forum(owner=official, visibility="invite", title="Stängt: Personalärenden")
    thread = make.thread(forum=public, author=member, title="Min tråd")
    readable = make.thread(forum=public, author=member, title="Den andra")
    with app.test_request_context():
        moderation.move_thread(make.user("admin"), thread.id, secret.id)
    started = {t["id"]: t for t in exported(app, member)["threads_started"]}
    assert (started[thread.id]["title"], started[thread.id]["forum"]) == (GONE, None)
    assert (started[readable.id]["title"], started[readable.id]["forum"]) == (
        "Den andra",
        "Öppet forum",
    )


def test_a_followed_action_a_moderator_hid_is_named_by_the_placeholder(app, make, world):  # noqa: F811
    action = propose(app, world.member, world, title="Hemlig titel XYZ")
    world.stranger.locale = "en"
    with app.test_request_context():
        follow_up.set_following(world.stranger, action.id, True)
        follow_up.hide_action(make.user("moderator"), action.id, "olämplig")
    followed = exported(app, world.stranger)["actions_followed"]
    assert [f["title"] for f in followed] == ["[Action hidden by a moderator]"]
    with app.test_request_context():
        follow_up.unhide_action(make.user("moderator"), action.id)
    followed = exported(app, world.stranger)["actions_followed"]
    assert [f["title"] for f in followed] == ["Hemlig titel XYZ"]


def test_a_redacted_action_title_is_not_in_the_proposers_export(app, make, world):  # noqa: F811
    action = propose(app, world.member, world, title="Ring Anna Andersson på 070-1234567")
    with app.test_request_context():
        follow_up.redact_action_title(
            make.user("moderator"), action.id, "Ring kontaktpersonen", "personuppgift"
        )
    data = exported(app, world.member)
    assert "070-1234567" not in json.dumps(data, ensure_ascii=False)
    assert [a["title"] for a in data["actions_proposed"]] == ["Ring kontaktpersonen"]


def test_a_draft_round_renamed_after_its_creator_left_the_department_is_not_named(app, make):
    official, colleague, boss = make.user("official"), make.user("official"), make.user("admin")
    official.locale = "en"
    make.organisation(admin=make.user())  # verified: an open round asks it
    draft = make_round(app, make, official, state="draft", title="Mötesplatser")
    opened = make_round(app, make, official, title="Öppen runda")
    with app.test_request_context():
        admin_service.grant_role(boss, official.id, "official", department_name="Kulturnämnden")
        new_title = "Nedläggning av fritidsgården i Bergsjön"
        consultations.update_round(colleague, draft.id, round_input(make, title=new_title))
        assert not policy.can_view_round(official, draft)
    managed = make_round(app, make, official, state="draft", title="Kulturnatten")
    rounds = {r["id"]: r for r in exported(app, official)["rounds_created"]}
    assert rounds[draft.id]["title"] == ROUND_GONE and rounds[draft.id]["created_at"]
    assert rounds[opened.id]["title"] == "Öppen runda"  # open: everyone reads it
    assert rounds[managed.id]["title"] == "Kulturnatten"  # a draft of their department now
    assert "Bergsjön" not in json.dumps(exported(app, official), ensure_ascii=False)
    official.locale = "sv"
    swedish = {r["id"]: r["title"] for r in exported(app, official)["rounds_created"]}
    assert swedish[draft.id] == "en samrådsomgång som du inte längre kan läsa"


def test_the_reason_of_a_decline_is_in_the_decliners_export(app, make):
    chair, member = make.user(), make.user()
    org = make.organisation(admin=chair, members=[member])
    round_ = make_round(app, make, make.user("official"))
    with app.test_request_context():
        consultations.decline(chair, round_.id, org.id, "Vi har inte resurser just nu.")
    (edited,) = exported(app, chair)["responses_edited"]
    assert (edited["status"], edited["decline_reason"]) == (
        "declined",
        "Vi har inte resurser just nu.",
    )
    assert exported(app, member)["responses_edited"] == []
    # a member who saves the draft after the decline (the status stays declined) is the last
    # to touch it, but the reason is not theirs
    with app.test_request_context():
        consultations.save_response(
            member, round_.id, org.id, {round_.questions[0].id: "Ett utkast"}
        )
    (saved,) = exported(app, member)["responses_edited"]
    assert saved["status"] == "declined" and "decline_reason" not in saved
