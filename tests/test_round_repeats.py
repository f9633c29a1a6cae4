"""A new round's form sent again: the same draft twice within minutes (a double tap on a slow
phone, a form sent again after its answer was lost) is made once; sent again corrected, it
is a second draft."""

from __future__ import annotations

import pytest
from consultation_support import consultation_people, round_input
from support import stored_count

from forum.models import ConsultationRound
from forum.services import consultations


def test_a_round_sent_twice_is_made_once(app, make, db):
    official = make.user("official")
    with app.test_request_context():
        first = consultations.create_round(official, round_input(make, title="Runda"))
        again = consultations.create_round(official, round_input(make, title="Runda"))
    assert again.id == first.id
    assert stored_count(ConsultationRound.title == "Runda") == 1


def test_a_round_drafted_again_with_other_words_is_a_second_draft(app, make, db):
    official = make.user("official")
    with app.test_request_context():
        consultations.create_round(official, round_input(make, title="Ungas mötesplatser"))
        consultations.create_round(official, round_input(make, title="Äldres mötesplatser"))
        consultations.create_round(official, round_input(make, title="Ungas mötesplatser"))
    assert stored_count(ConsultationRound.title == "Ungas mötesplatser") == 1
    assert stored_count(ConsultationRound.title == "Äldres mötesplatser") == 1


@pytest.mark.parametrize(
    "change",
    [
        {"audience": "invited"},  # who is asked (filled in below)
        {"questions": [("Vad saknas i dag?", "Tänk på kvällar och helger.")]},
        {"stage": "options"},
        {"background": "Stadsdelarna har samma behov."},
    ],
)
def test_a_new_round_sent_again_corrected_is_a_second_draft(app, make, db, change):
    """Sent again within minutes with something changed (the official went back and
    corrected who is asked), it is not a repeat: the first draft, asking every verified
    organisation, was returned and the correction dropped without a word."""
    official, *_ = consultation_people(make)
    if change.get("audience") == "invited":
        change = {**change, "invited_ids": [make.organisation(admin=make.user()).id]}
    with app.test_request_context():
        first = consultations.create_round(official, round_input(make, title="Runda"))
        again = consultations.create_round(official, round_input(make, title="Runda", **change))
    assert again.id != first.id
    assert stored_count(ConsultationRound.title == "Runda") == 2
