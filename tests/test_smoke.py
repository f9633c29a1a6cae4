"""The app starts, pages render, the health check answers."""


def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["database"], body["message_queue"]) == ("ok", "ok", "none")


def test_agreement_page_lists_principles_and_commitments(client):
    page = client.get("/overenskommelsen").get_data(as_text=True)
    assert "Integritet och oberoende" in page
    assert "Uppföljning och utvärdering av överenskommelsen" in page
    assert page.count('href="/commitments/') == 13


def test_thread_page_renders(client, make, auth):
    member = make.user()
    thread = make.thread(author=member)
    make.message(thread, member, "**hej** @nobody")
    auth.login(member)
    page = client.get(f"/threads/{thread.id}")
    assert page.status_code == 200
    assert "<strong>hej</strong>" in page.get_data(as_text=True)
