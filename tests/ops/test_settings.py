"""Settings: the generated reference is current, and the daemon refuses an invalid
configuration (environment or TOML file) with a message naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings_doc import render_settings_doc
from tests.conftest import BrokerUnderTest

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_settings_reference_is_current() -> None:
    committed = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert committed == render_settings_doc(), (
        "docs/settings.md is stale: run `tryggbo settings-doc --out docs/settings.md`"
    )


def serve(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRYGGBO_")}
    return subprocess.run(
        [sys.executable, "-m", "controller", "serve"],
        env={**clean, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_daemon_refuses_an_invalid_environment_naming_the_setting(tmp_path: Path) -> None:
    done = serve({"TRYGGBO_HTTP_PORT": "99999"}, tmp_path)  # the real process, once
    assert done.returncode == 2, done.stderr
    assert "invalid configuration" in done.stderr
    assert "TRYGGBO_HTTP_PORT" in done.stderr
    assert not (tmp_path / "var").exists()  # refused before touching anything


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TRYGGBO_RETENTION_AUDIT_DAYS": "-1"}, "TRYGGBO_RETENTION_AUDIT_DAYS"),
        ({"TRYGGBO_LOG_FORMAT": "xml"}, "TRYGGBO_LOG_FORMAT"),
        ({"TRYGGBO_BROKER": "http://example.org"}, "TRYGGBO_BROKER"),
        ({"TRYGGBO_HA_ENABLED": "true"}, "TRYGGBO_HA_BROKER"),
    ],
)
def test_serve_names_each_invalid_setting(
    env: dict[str, str], named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from controller.cli.app import app

    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("TRYGGBO_")]:
        monkeypatch.delenv(key)
    done = CliRunner().invoke(app, ["serve"], env=env)
    assert done.exit_code == 2, done.output
    assert named in done.output.replace("\n", "")
    assert not (tmp_path / "var").exists()


def test_daemon_refuses_an_invalid_config_file_naming_the_setting(tmp_path: Path) -> None:
    config = tmp_path / "tryggbo.toml"
    config.write_text("http_port = 8081\nretention_audit_dayz = 30\n", encoding="utf-8")
    done = serve({"TRYGGBO_CONFIG_FILE": str(config)}, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "retention_audit_dayz" in done.stderr


def test_a_config_file_that_does_not_parse_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.settings import SettingsError, load_settings

    config = tmp_path / "tryggbo.toml"
    config.write_text("http_port = [", encoding="utf-8")
    monkeypatch.setenv("TRYGGBO_CONFIG_FILE", str(config))
    with pytest.raises(SettingsError, match=r"tryggbo\.toml"):
        load_settings()
    monkeypatch.setenv("TRYGGBO_CONFIG_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match="TRYGGBO_CONFIG_FILE"):
        load_settings()


def test_config_file_environment_and_flags_in_that_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.settings import load_settings

    config = tmp_path / "tryggbo.toml"
    config.write_text('http_port = 8081\nlog_format = "json"\nhttp_host = "0.0.0.0"\n')
    monkeypatch.setenv("TRYGGBO_CONFIG_FILE", str(config))
    monkeypatch.setenv("TRYGGBO_HTTP_PORT", "8082")
    settings = load_settings(http_host="127.0.0.2")
    assert settings.log_format == "json"  # from the file
    assert settings.http_port == 8082  # the environment beats the file
    assert settings.http_host == "127.0.0.2"  # a flag beats both


async def test_serve_warns_of_a_misspelt_variable_and_firmware_dir_is_a_setting(
    mosquitto: BrokerUnderTest, tmp_path: Path
) -> None:
    """The real daemon: a misspelt ``TRYGGBO_*`` variable (silently ignored before) is
    logged as a warning naming the closest setting; ``TRYGGBO_FIRMWARE_DIR`` is a
    setting (not warned about) and uploaded images are kept there."""
    import hashlib
    import json

    from devices.firmware.update import make_image
    from tests.faults.served import served_controller

    images = tmp_path / "firmware-images"
    async with served_controller(mosquitto, tmp_path) as served:
        served.env = {
            "TRYGGBO_LOG_FORMAT": "json",
            "TRYGGBO_FIRMWARE_DIR": str(images),
            "TRYGGBO_HTTP_PROT": "8081",
        }
        await served.start()
        image = make_image("lock", "1.1.0")
        status, body = await served.call(
            "POST", "/api/firmware?type=lock&version=1.1.0", data=image,
            headers={"Content-Type": "application/octet-stream"},
        )  # fmt: skip
        assert status == 201, body
        assert (images / f"{hashlib.sha256(image).hexdigest()}.bin").read_bytes() == image
        lines = [json.loads(line) for line in served.log_text().splitlines() if line[:1] == "{"]
    warned = [line["message"] for line in lines if line["level"] == "WARNING"]
    assert (
        "unknown setting TRYGGBO_HTTP_PROT is ignored; did you mean TRYGGBO_HTTP_PORT? "
        "(docs/settings.md)"
    ) in warned, served.log_tail()
    assert not [w for w in warned if "FIRMWARE" in w], warned
