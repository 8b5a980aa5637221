"""One resident's export holds that resident's records and nobody else's; admin only;
the export itself is logged."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from config.site import Site
from controller.api import build_app
from controller.auth.tokens import create_user_token
from controller.calls.invitations import Invitations
from controller.daemon import Controller, ControllerConfig
from controller.store import open_store
from controller.store.plan_sql import PlanEntryRecord
from devices.clock import ManualClock
from devices.mqtt import BrokerAddress
from tests.integration.harness import make_test_users

from .records import NOW, fill


async def test_resident_export_holds_that_residents_records_only(
    tmp_path: Path, example_site: Site
) -> None:
    url = f"sqlite:///{tmp_path / 'e.sqlite'}"
    store = open_store(url)
    await store.open()
    await fill(store)
    await make_test_users(store, example_site, now=NOW)
    for apartment, text in (("101", "Sjukgymnast"), ("102", "Fotvård Bertil")):
        await store.add_plan_entry(
            PlanEntryRecord(apartment, NOW.date(), "10:00", text, "anna", NOW)
        )
    invitations = Invitations(store, ManualClock(NOW))  # type: ignore[arg-type]
    for apartment, relative in (("101", "Anna Lindqvist"), ("102", "Bo Holm")):
        await invitations.create(
            apartment=apartment, resident="x", relative=relative, by="anna", valid_days=7
        )
    await store.close()
    clock = ManualClock(NOW)
    ctl = Controller(
        ControllerConfig(
            broker=BrokerAddress.parse("mqtt://127.0.0.1:1"),
            site=example_site,
            credentials=None,
            db_url=url,
        ),
        clock=clock,
    )
    await ctl.store.open()
    admin, _ = await create_user_token(ctl.store, username="test-admin", name="t", now=NOW)
    server = TestServer(build_app(ctl))
    await server.start_server()
    try:
        async with aiohttp.ClientSession(
            base_url=str(server.make_url("/")),
            headers={"Authorization": f"Bearer {admin}"},
        ) as http:
            async with http.get("/api/residents/101/export") as resp:
                assert resp.status == 200
                assert "attachment" in resp.headers["Content-Disposition"]
                doc = json.loads(await resp.text())
            async with http.get("/api/residents/999/export") as resp:
                assert resp.status == 404
                assert (await resp.json())["error"]["code"] == "unknown_apartment"
        assert doc["apartment"]["resident"] == "Astrid Lindqvist"
        # every device of the apartment, the night-supervision sensors too
        apartment = next(a for a in example_site.apartments if a.number == "101")
        assert doc["devices"] == [d.id for d in apartment.devices]
        assert {"a101-lock", "a101-bed"} <= set(doc["devices"])
        assert len(doc["events"]) == 3
        assert {e["device"] for e in doc["events"]} == {"a101-lock"}
        assert {a["command_id"] for a in doc["audit"]} == {"c-old", "c-span", "c-mid"}
        assert {a["apartment"] for a in doc["activity"]} == {"101"}
        assert len(doc["activity"]) == 2
        assert {a["apartment"] for a in doc["alarms"]} == {"101"}
        assert len(doc["alarms"]) == 2
        assert [p["text"] for p in doc["plan_entries"]] == ["Sjukgymnast"]
        assert [i["relative"] for i in doc["invitations"]] == ["Anna Lindqvist"]
        text = json.dumps(doc, ensure_ascii=False)
        assert "a102" not in text
        assert "Bertil Holm" not in text  # apartment 102's resident
        assert "Bo Holm" not in text  # 102's relative
        logged = await ctl.store.activity(limit=10, action="resident_export")
        assert [(a.actor, a.apartment) for a in logged] == [("test-admin", "101")]
    finally:
        await server.close()
        await ctl.store.close()


async def test_resident_export_is_for_admins_only(tmp_path: Path, example_site: Site) -> None:
    url = f"sqlite:///{tmp_path / 'f.sqlite'}"
    store = open_store(url)
    await store.open()
    await make_test_users(store, example_site, now=NOW)
    from controller.auth.accounts import ensure_user

    await ensure_user(
        store, username="nurse", password="ett bra lösen 9", roles=["staff"], units=["A"], now=NOW
    )
    nurse, _ = await create_user_token(store, username="nurse", name="t", now=NOW)
    await store.close()
    ctl = Controller(
        ControllerConfig(
            broker=BrokerAddress.parse("mqtt://127.0.0.1:1"),
            site=example_site,
            credentials=None,
            db_url=url,
        )
    )
    await ctl.store.open()
    server = TestServer(build_app(ctl))
    await server.start_server()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                server.make_url("/api/residents/101/export"),
                headers={"Authorization": f"Bearer {nurse}"},
            ) as resp,
        ):
            assert resp.status == 403
    finally:
        await server.close()
        await ctl.store.close()
