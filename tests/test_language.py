"""The interface speaks Simplified Chinese unless the user picks English."""

from django.test import Client


def test_it_speaks_chinese_whatever_the_browser_asks(db: None) -> None:
    page = Client().get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page["Content-Language"] == "zh-hans"
    assert "登录" in page.content.decode()


def test_it_switches_to_english_when_chosen(db: None) -> None:
    client = Client()
    chosen = client.post("/i18n/setlang/", {"language": "en", "next": "/admin/login/"})
    assert chosen.status_code == 302
    page = client.get("/admin/login/")
    assert page["Content-Language"] == "en"
    assert "Log in" in page.content.decode()


def test_the_front_page_leads_to_the_map_pages_through_login(db: None) -> None:
    response = Client().get("/", follow=True)
    assert response.redirect_chain == [("/map/", 302), ("/accounts/login/?next=/map/", 302)]


def test_the_admin_names_the_layers_in_the_chosen_language(admin_client: Client) -> None:
    assert "部件" in admin_client.get("/admin/").content.decode()
    admin_client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    english = admin_client.get("/admin/").content.decode()
    assert "Components" in english and "Standard addresses" in english


def test_every_admin_page_offers_the_language_switch(admin_client: Client) -> None:
    page = admin_client.get("/admin/").content.decode()
    assert 'id="language-switch"' in page
    assert 'value="en"' in page and "English" in page
