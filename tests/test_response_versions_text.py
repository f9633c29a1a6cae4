"""An organisation's response page lists its submitted versions; it showed each one's time,
submitter and documents but not its text, so once the draft changed nobody in the
organisation could see what had actually been filed. Each version now shows it."""

from __future__ import annotations

from consultation_support import consultation_people, english, make_round, respond
from support import Auth

from forum.extensions import db
from forum.services import consultations as service


def test_each_version_shows_the_text_it_filed(app, client, make):
    english(client)
    official, chair, member, org = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org, text="Första <b>versionen</b>")
    with app.test_request_context():  # the draft changes after the filing
        service.save_response(member, round_.id, org.id, {round_.questions[0].id: "Nytt utkast"})
    respond(app, chair, round_, org, text="Andra versionen")
    with app.test_request_context():
        service.save_response(member, round_.id, org.id, {round_.questions[0].id: "Tredje utkast"})
    Auth(client).login(member)
    page = client.get(f"/consultations/{round_.id}/response?organisation={org.id}")
    html = page.get_data(as_text=True)
    versions = html.split('id="versions-heading"')[1]
    one = versions.split("The text submitted in version 1")[1]
    two = versions.split("The text submitted in version 2")[1].split("The text submitted in")[0]
    assert "Första &lt;b&gt;versionen&lt;/b&gt; 1" in one  # as rendered, sanitised
    assert "<b>versionen" not in versions
    assert "Andra versionen 1" in two and "Första" not in two
    assert "Tredje utkast" not in versions  # the draft is in its box, not among the versions
    assert "Tredje utkast" in html.split('id="versions-heading"')[0]


def test_the_versions_text_takes_no_query_per_version(app, client, make, count_queries):
    english(client)
    official, chair, member, org = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    Auth(client).login(chair)
    url = f"/consultations/{round_.id}/response?organisation={org.id}"
    counts = []
    for n in range(3):
        respond(app, chair, round_, org, text=f"Version {n}")
        db.session.expire_all()
        with count_queries() as counted:
            assert client.get(url).status_code == 200
        counts.append(counted.count)
    assert counts[0] == counts[1] == counts[2], counts
