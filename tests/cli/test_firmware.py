"""`tryggbo firmware push` against the running daemon: the device downloads the image
from the daemon over HTTP; a good image updates, a corrupt one rolls back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from devices.firmware.update import make_image

from .conftest import Daemon, invoke, run_cli


async def test_a_good_image_updates_the_device(daemon: Daemon, tmp_path: Path) -> None:
    device = daemon.home.home["a102-curtain"]
    image = tmp_path / "curtain-1.1.0.bin"
    image.write_bytes(make_image("curtain", "1.1.0"))
    boot_before = device.boot
    result = await run_cli(
        "firmware", "push", "--device", "a102-curtain", "--version", "1.1.0",
        "--file", str(image), "--json", env=daemon.env(),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["devices"] == [
        {"device": "a102-curtain", "ok": True, "error": None, "firmware": "1.1.0"}
    ]
    assert device.firmware == "1.1.0"
    assert device.boot != boot_before  # it rebooted into the image
    twin = daemon.running.controller.twins.get("a102-curtain")
    assert twin is not None
    assert twin.firmware == "1.1.0"
    listed = await run_cli("firmware", "list", "--json", env=daemon.env())
    assert listed.code == 0, listed.stderr
    assert hashlib.sha256(image.read_bytes()).hexdigest() in {
        i["sha256"] for i in json.loads(listed.stdout)
    }


async def test_a_corrupt_image_rolls_back_and_the_version_is_unchanged(
    daemon: Daemon, tmp_path: Path
) -> None:
    device = daemon.home.home["a101-curtain"]
    before = device.firmware
    corrupt = bytearray(make_image("curtain", "1.2.0"))
    corrupt[3] ^= 0xFF  # a flipped bit in the header: it will not boot
    image = tmp_path / "corrupt.bin"
    image.write_bytes(bytes(corrupt))
    result = await run_cli(
        "firmware", "push", "--device", "a101-curtain", "--version", "1.2.0",
        "--file", str(image), "--json", env=daemon.env(),
    )  # fmt: skip
    assert result.code == 3, result.stderr
    outcome = json.loads(result.stdout)["devices"][0]
    assert outcome["ok"] is False
    assert outcome["error"] == "boot_failed"
    assert device.firmware == before
    twin = daemon.running.controller.twins.get("a101-curtain")
    assert twin is not None
    assert twin.firmware == before


async def test_an_image_that_does_not_match_its_hash_is_refused(daemon: Daemon) -> None:
    device = daemon.home.home["a101-screen"]
    before = device.firmware
    status, body = await daemon.running.command(
        "a101-screen",
        "update_firmware",
        args={
            "version": "7.0.0",
            "sha256": "0" * 64,
            "size": 10,
            "url": f"{daemon.api}/api/firmware/{'0' * 64}",
        },
        reason="test",
    )
    assert status == 409, body
    assert body["outcome"] == "failed"
    assert body["error"] == "download_failed"  # 404: no such image on the daemon
    assert device.firmware == before


async def test_a_rollout_by_type_stops_at_the_first_failure(daemon: Daemon, tmp_path: Path) -> None:
    screens = sorted(d for d in daemon.home.home.devices if d.endswith("-screen"))
    versions = {d: daemon.home.home[d].firmware for d in screens}
    image = tmp_path / "bad-screen.bin"
    image.write_bytes(make_image("curtain", "3.0.0"))  # a curtain image: no screen boots it
    result = await run_cli(
        "firmware", "push", "--type", "screen", "--version", "3.0.0", "--wave", "5",
        "--file", str(image), "--json", env=daemon.env(),
    )  # fmt: skip
    assert result.code == 3, result.stderr
    outcomes = {r["device"]: r["error"] for r in json.loads(result.stdout)["devices"]}
    assert outcomes == {screens[0]: "boot_failed", screens[1]: "skipped"}
    assert {d: daemon.home.home[d].firmware for d in screens} == versions


def test_firmware_push_bad_arguments(tmp_path: Path) -> None:
    image = tmp_path / "x.bin"
    image.write_bytes(b"x")
    cases = [
        (("--version", "1", "--file", str(image)), "exactly one of --device and --type"),
        (("--version", "1", "--file", str(tmp_path / "none"), "--device", "a101-lock"),
         "cannot read"),
        (("--version", "1", "--file", str(image), "--type", "toaster"), "--type must be"),
    ]  # fmt: skip
    env = {"TRYGGBO_TOKEN": "t", "TRYGGBO_API": "http://127.0.0.1:9"}
    for args, message in cases:
        result = invoke("firmware", "push", *args, env=env)
        assert result.code == 2, (args, result)
        assert message in result.stderr
