"""Site file, settings and Mosquitto files: bad input names the field and the problem."""

from __future__ import annotations

import base64
import hashlib
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from config.credentials import ensure_credentials
from config.mosquitto import password_hash, render_acl
from config.settings import SettingsError, load_settings
from config.site import EXAMPLE_SITE, SiteFileError, load_site


def test_example_site_has_24_apartments_each_with_a_lock_a_curtain_and_a_screen() -> None:
    site = load_site(EXAMPLE_SITE)
    assert len(site.apartments) == 24
    basic = {"lock", "curtain", "screen"}
    assert all(basic <= {d.type.value for d in a.devices} for a in site.apartments)
    # night supervision's sensors only where a basis for it is recorded
    for apartment in site.apartments:
        if {d.type.value for d in apartment.devices} - basic:
            assert apartment.night_supervision is not None, apartment.number
    assert site.device("a101-lock")[0].number == "101"
    assert str(site.zone) == "Europe/Stockholm"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[site]\nslug = "Bad Slug"\n', "site.slug"),
        ('[site]\nslug = "x"\ntimezone = "Mars/Base"\n', "unknown time zone"),
        (
            '[site]\nslug = "x"\n[[apartments]]\nnumber = "1"\ndevices = ["toaster"]\n',
            "apartments[0].devices[0].type",
        ),
        (
            '[site]\nslug = "x"\n[[apartments]]\nnumber = "1"\n[[apartments]]\nnumber = "1"\n',
            "apartment 1 appears twice",
        ),
        ('[site]\nslug = "x"\nsurprise = 1\n', "site.surprise"),
        ('[site]\nslug = "x"\nunlock_reasons = ["Other"]\n', "always accepted"),
        ('[site]\nslug = "x"\nunlock_reasons = ["visit: am"]\n', "no ':'"),
        ('[site]\nslug = "x"\nunlock_reasons = ["a", "A "]\n', "listed twice"),
        ('[site]\nslug = "x"\nescalate_after_minutes = 0\n', "site.escalate_after_minutes"),
        ('[site]\nslug = "x"\nescalate_after_seconds = 4\n', "site.escalate_after_seconds"),
        (
            '[site]\nslug = "x"\nescalate_after_minutes = 5\nescalate_after_seconds = 10\n',
            "not both",
        ),
        ("[site\n", "not valid TOML"),
    ],
)
def test_bad_site_files_name_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(text)
    with pytest.raises(SiteFileError) as exc:
        load_site(path)
    assert expected in str(exc.value)


def test_escalation_interval_in_minutes_by_default_or_in_seconds(tmp_path: Path) -> None:
    assert load_site(EXAMPLE_SITE).site.escalate_after == timedelta(minutes=5)
    path = tmp_path / "site.toml"
    path.write_text('[site]\nslug = "x"\n')
    assert load_site(path).site.escalate_after == timedelta(minutes=5)
    path.write_text('[site]\nslug = "x"\nescalate_after_seconds = 10\n')
    assert load_site(path).site.escalate_after == timedelta(seconds=10)


def test_missing_site_file(tmp_path: Path) -> None:
    with pytest.raises(SiteFileError, match="does not exist"):
        load_site(tmp_path / "nope.toml")


def test_settings_errors_name_the_setting() -> None:
    with pytest.raises(SettingsError, match="broker"):
        load_settings(broker="http://example")
    with pytest.raises(SettingsError, match="http_port"):
        load_settings(http_port=70000)
    assert load_settings(broker="mqtt://10.0.0.1:1884").brokers.nodes[0].port == 1884
    with pytest.raises(SettingsError, match="broker"):
        load_settings(broker="mqtt://n1:1883,http://n2:1883")


def test_broker_setting_takes_the_nodes_of_a_cluster_in_order() -> None:
    nodes = load_settings(broker="mqtt://n1:1883, mqtt://n2:1884,mqtt://n3").brokers.nodes
    assert [(n.host, n.port) for n in nodes] == [("n1", 1883), ("n2", 1884), ("n3", 1883)]


def test_credentials_are_private_and_kept(tmp_path: Path) -> None:
    site = load_site(EXAMPLE_SITE)
    path = tmp_path / "creds.json"
    first = ensure_credentials(site, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = ensure_credentials(site, path)
    assert again.device("a101-lock") == first.device("a101-lock")
    keys = {c.hmac_key for c in first.devices.values()}
    assert len(keys) == len(list(site.devices()))  # every device its own key


def test_password_hash_is_mosquittos_pbkdf2_format() -> None:
    salt = b"0123456789ab"
    hashed = password_hash("secret", salt)
    _, seven, iterations, _salt_b64, digest_b64 = hashed.split("$")
    assert (seven, iterations) == ("7", "101")
    expected = hashlib.pbkdf2_hmac("sha512", b"secret", salt, 101)
    assert base64.b64decode(digest_b64) == expected


def test_acl_gives_each_device_only_its_own_topics(tmp_path: Path) -> None:
    creds = ensure_credentials(load_site(EXAMPLE_SITE), tmp_path / "c.json")
    acl = render_acl(creds)
    block = acl.split("user a101-lock\n")[1].split("\n\n")[0].splitlines()
    assert "topic read tryggbo/solgarden/dev/a101-lock/cmd" in block
    assert "topic read tryggbo/solgarden/fire" in block
    # read-only: the fallback routines run only while the controller is offline
    assert "topic read tryggbo/solgarden/controller/availability" in block
    assert all(
        "a101-lock" in line
        or line.endswith("/fire")
        or line == "topic read tryggbo/solgarden/controller/availability"
        for line in block
    )
    assert not any(line.startswith("topic write") and "cmd" in line for line in block)
