"""What a review of the pages found: the latest messages on a consultation round's page
showed their reaction counts as submit buttons (aria-disabled, but nothing stopped a press),
so pressing one posted a reaction and left the round page for the thread's. There they are
text; the thread page still offers them as buttons."""

from __future__ import annotations

from html.parser import HTMLParser

from consultation_support import consultation_people, english, make_round
from sqlalchemy import select

from forum.models import Thread
from forum.services import reactions


class Controls(HTMLParser):
    """The reaction controls of a page: buttons that post to a message's reactions (in a
    form whose action ends in /reactions), and the counts shown as text."""

    def __init__(self) -> None:
        super().__init__()
        self.form_action: str | None = None
        self.posting: list[dict] = []
        self.counts: list[dict] = []
        self.in_template = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "template":
            self.in_template += 1
        elif tag == "form":
            self.form_action = a.get("action") or ""
        elif tag == "button" and a.get("type", "submit") == "submit":
            owner = self.form_action or ""
            if owner.endswith("/reactions") and "data-reaction" in a:
                self.posting.append(a)
        elif tag == "span" and "data-reaction-count-of" in a and not self.in_template:
            self.counts.append(a)

    def handle_endtag(self, tag):
        if tag == "template":
            self.in_template -= 1
        elif tag == "form":
            self.form_action = None


def controls(response) -> Controls:
    assert response.status_code == 200
    parsed = Controls()
    parsed.feed(response.get_data(as_text=True))
    return parsed


def test_the_round_page_shows_reaction_counts_as_text_and_the_thread_page_as_buttons(
    app, client, make, auth, db
):
    official, chair, member, _org = consultation_people(make)
    round_ = make_round(app, make, official)
    thread = db.session.scalar(select(Thread).where(Thread.id == round_.thread_id))
    message = make.message(thread, chair, "Hur blir det med kvällarna?")
    with app.test_request_context():
        reactions.react(official, message.id, "👍", add=True)
    english(client)
    auth.login(member)

    page = controls(client.get(f"/consultations/{round_.id}"))
    assert page.posting == [], "a press on a count would post a reaction from the round page"
    (thumbs,) = [c for c in page.counts if "hidden" not in c]
    assert thumbs["data-reaction-count-of"] == "👍"
    assert thumbs["role"] == "img"
    assert thumbs["aria-label"] == "1 person reacted with thumbs up"
    assert thumbs["title"] == official.display_name

    # the thread page, where the member may react, still has the counts as buttons
    page = controls(client.get(f"/threads/{thread.id}"))
    buttons = [b for b in page.posting if b.get("data-reaction") == "👍" and "hidden" not in b]
    assert len(buttons) == 1 and "aria-disabled" not in buttons[0]
    assert page.counts == []
