"""``tryggbo serial console|bridge``: devices on a serial line (pyserial), see
docs/serial.md for the line protocol."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from config.credentials import CredentialsError, load_credentials
from config.site import SiteFileError, load_site
from controller.cli.exit_codes import ExitCode, help_text
from controller.cli.output import err, fail, out
from devices.mqtt import BrokerAddress, BrokerUrlError

serial_app = typer.Typer(
    help=f"Devices on a serial line: console and MQTT bridge. {help_text()}",
    no_args_is_help=True,
)

PortArg = Annotated[str, typer.Argument(help="serial port, e.g. /dev/ttyUSB0 (pyserial URL ok)")]
BaudOption = Annotated[int, typer.Option(help="baud rate", min=300, max=4_000_000)]


def _open(port: str, baud: int) -> Any:
    import serial

    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=0.2, write_timeout=2)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise fail(f"cannot open {port}: {exc}", ExitCode.RUNTIME) from None


@serial_app.command("console")
def serial_console(
    port: PortArg,
    baud: BaudOption = 115200,
    raw: Annotated[
        bool, typer.Option("--raw", help="send typed lines as they are (no framing)")
    ] = False,
    count: Annotated[
        int | None, typer.Option(min=1, help="exit after receiving this many frames")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="print received frames as JSON Lines")
    ] = False,
) -> None:
    """Interactive line console. A typed JSON object such as {"t":"ping"} is sent as a
    frame (checksum added); received frames are checked and printed. Ctrl-D ends."""
    import serial

    from devices.serial.protocol import FrameError, LineSplitter, decode_frame, encode_frame

    line = _open(port, baud)
    done = threading.Event()
    received = 0

    def reader() -> None:
        nonlocal received
        splitter = LineSplitter()
        while not done.is_set():
            try:
                data = line.read(line.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                err.print(f"line lost: {exc}", highlight=False)
                done.set()
                return
            for raw_line in splitter.feed(data):
                try:
                    frame = decode_frame(raw_line)
                except FrameError as exc:
                    err.print(f"bad frame ({exc}): {raw_line!r}", highlight=False)
                    continue
                if json_out:
                    print(json.dumps(frame), flush=True)
                else:
                    out.print(f"< {json.dumps(frame)}", highlight=False)
                received += 1
                if count is not None and received >= count:
                    done.set()
                    return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    err.print(f"connected to {port} at {baud} baud; Ctrl-D to quit", highlight=False)
    try:
        for typed in sys.stdin:
            if done.is_set():
                break
            text = typed.strip()
            if not text:
                continue
            if raw:
                payload = text.encode() + b"\n"
            else:
                try:
                    frame = json.loads(text)
                    if not isinstance(frame, dict) or "t" not in frame:
                        raise ValueError("needs a JSON object with t")
                    kind = str(frame.pop("t"))
                    payload = encode_frame(kind, **frame)
                except ValueError as exc:
                    err.print(f"not sent: {exc} (use --raw for unframed text)", highlight=False)
                    continue
            line.write(payload)
        if count is not None:
            done.wait()  # stdin ended: wait for the frames asked for
    except KeyboardInterrupt:
        pass
    finally:
        done.set()
        thread.join(1)
        line.close()
    if count is not None and received < count:
        raise fail(f"only {received} of {count} frames before the line ended", ExitCode.RUNTIME)


@serial_app.command("bridge")
def serial_bridge(
    port: PortArg,
    device: Annotated[str, typer.Option(help="the device's id in the site file")],
    broker: Annotated[str, typer.Option(help="MQTT broker URL", envvar="TRYGGBO_BROKER")],
    site: Annotated[Path, typer.Option(help="site file (TOML)", envvar="TRYGGBO_SITE_FILE")] = Path(
        "site.toml"
    ),
    credentials: Annotated[
        Path, typer.Option(help="device secrets file", envvar="TRYGGBO_CREDENTIALS_FILE")
    ] = Path("var/credentials.json"),
    baud: BaudOption = 115200,
    ping: Annotated[float, typer.Option(min=0.2, max=60, help="line keepalive seconds")] = 5.0,
) -> None:
    """Make the serial-line device appear on MQTT as a normal contract device, with
    its own login; offline (retained) while the line is down. Runs until stopped."""
    from controller.cli.app import _logging, _run
    from devices.clock import SystemClock
    from devices.serial.bridge import SerialBridge

    try:
        address = BrokerAddress.parse(broker)
        site_model = load_site(site)
        creds = load_credentials(credentials)
    except (BrokerUrlError, SiteFileError, CredentialsError) as exc:
        raise fail(str(exc)) from None
    found = site_model.device(device)
    if found is None:
        raise fail(f"no device {device!r} in {site}")
    apartment, entry = found
    try:
        login = creds.device(device)
    except CredentialsError as exc:
        raise fail(f"{exc}; run `tryggbo provision add` first") from None
    _logging("INFO")
    bridge = SerialBridge(
        port,
        site=site_model.slug,
        device_id=device,
        device_type=entry.type,
        broker=address,
        credentials=login,
        clock=SystemClock(),
        baudrate=baud,
        ping_s=ping,
        room=apartment.number,
    )
    _run(bridge.run())
