"""The `gatehouse` command: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from broker.config import ENV_CONFIG, ConfigError, Settings, load
from broker.credentials import CredentialError
from broker.embedded import BrokerError
from broker.outbox import OutboxError
from broker.safe_text import EscapingFormatter
from security.cli.digest import add_commands as add_digest_commands
from security.cli.office import add_commands as add_office_commands
from security.cli.people import add_commands as _add_people_commands
from security.cli.users import add_commands as add_user_commands
from security.cli.visitors import add_commands as add_visitor_commands
from security.storage import StorageError

Command = Callable[[Settings, argparse.Namespace], int]


def _common() -> argparse.ArgumentParser:
    # SUPPRESS: an option given before the subcommand is not reset by the subcommand's copy
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    g = common.add_argument_group("where things are (also GATEHOUSE_* environment and --config TOML)")
    g.add_argument("--config", metavar="FILE", help="TOML settings file (env GATEHOUSE_CONFIG)")
    g.add_argument("--mqtt", metavar="URL", help="broker, mqtt://user:pass@host:port or mqtts://; "
                   "default: the embedded broker (env GATEHOUSE_MQTT_URL)")
    g.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the central store; default: SQLite "
                   "in the data folder (env GATEHOUSE_DB_URL)")
    g.add_argument("--data-dir", metavar="DIR", help="data folder (env GATEHOUSE_DATA_DIR; default ./data)")
    g.add_argument("--site", metavar="NAME", help="site name used in topics (default 'demo')")
    g.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return common


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from broker.broker_cli import client_url
    from broker.credentials import Role
    from security.cli.serve import run_service
    from security.ingest.service import SERVICE_DEVICE

    url = client_url(settings, SERVICE_DEVICE, Role.SERVICE)
    config = getattr(args, "config", None) or os.environ.get(ENV_CONFIG)
    return run_service(settings, url, gap_timeout=args.gap_timeout, config_path=config)


def _events(settings: Settings, args: argparse.Namespace) -> int:
    from security.cli.events import list_events

    return list_events(settings, types=args.type, source=args.source, since=args.since,
                       until=args.until, limit=args.limit, as_json=args.json, out=sys.stdout)


def _bench_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from gatehouse.bench_cli import bench_ingest_command

    return bench_ingest_command(settings, args)


def _device_run(settings: Settings, args: argparse.Namespace) -> int:
    from gatehouse.device_cli import device_run_command

    return device_run_command(settings, args)


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from gatehouse.device_cli import simulate_command

    return simulate_command(settings, args)


def _bench_soak(settings: Settings, args: argparse.Namespace) -> int:
    from gatehouse.bench_cli import bench_soak_command

    return bench_soak_command(settings, args)


def _bench_devices(settings: Settings, args: argparse.Namespace) -> int:
    from gatehouse.bench_devices import bench_devices_command

    return bench_devices_command(settings, args)


def _bench_kiosk(settings: Settings, args: argparse.Namespace) -> int:
    from gatehouse.bench_kiosk import bench_kiosk_command

    return bench_kiosk_command(settings, args)


def _bench_alarms(settings: Settings, args: argparse.Namespace) -> int:
    from gatehouse.bench_alarms import bench_alarms_command

    return bench_alarms_command(settings, args)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every subcommand takes the common options)."""
    common = _common()
    parser = argparse.ArgumentParser(
        prog="gatehouse", parents=[common],
        description="Gatehouse: visitor kiosks, guard stations and devices around one event log.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", parents=[common], help="run a whole small site on embedded defaults")
    demo.add_argument("--headless", action="store_true",
                      help="play the scripted scenario even when a display is present")
    demo.add_argument("--screenshots", metavar="DIR", default=None,
                      help="where to save a screenshot of each screen (default DATA_DIR/screenshots)")
    demo.set_defaults(run=_demo)

    serve = sub.add_parser("serve", parents=[common], help="run the central service")
    serve.add_argument("--gap-timeout", type=float, default=30.0, metavar="S",
                       help="seconds a seq gap may stay open before it is reported (default 30)")
    serve.set_defaults(run=_serve)

    _add_broker_commands(sub, common)

    _add_device_commands(sub, common)

    kiosk = sub.add_parser("kiosk", parents=[common], help="run a visitor kiosk (a Kivy window)")
    kiosk.add_argument("--device", default="kiosk-1", help="this kiosk's device name (default kiosk-1)")
    kiosk.add_argument("--demo", action="store_true", help="play the scripted walk-in, then exit")
    kiosk.add_argument("--headless", action="store_true", help="render offscreen (no display needed)")
    kiosk.add_argument("--screenshots", metavar="DIR", help="with --demo: a PNG of each screen shown; alone: "
                       "every screen in every language, offscreen, into DIR/<lang>/ (no broker needed)")
    kiosk.add_argument("--size", type=_size, help="window WxH in pixels (default 1080x1920)")
    kiosk.add_argument("--position", type=_position, help="window X,Y on the desktop")
    kiosk.set_defaults(run=_kiosk)

    station = sub.add_parser("station", parents=[common], help="run a guard station (a Kivy window)")
    station.add_argument("--device", default="station-1", help="this station's device name")
    station.add_argument("--run-for", type=float, metavar="S", help="close after S seconds")
    station.add_argument("--headless", action="store_true", help="render offscreen (no display needed)")
    station.add_argument("--screenshots", metavar="DIR", help="save station.png there when closing")
    station.add_argument("--size", type=_size, help="window WxH in pixels (default 1280x800)")
    station.add_argument("--position", type=_position, help="window X,Y on the desktop")
    station.add_argument("--operator", metavar="NAME",
                         help="who acts on alarms from this station (default guard:<device>)")
    station.set_defaults(run=_station)

    ev = sub.add_parser("events", parents=[common], help="list the stored event log")
    ev.add_argument("--type", action="append", metavar="TYPE", help="only this type (repeatable; "
                    "a prefix like 'door.' matches a family)")
    ev.add_argument("--source", metavar="DEVICE", help="only this device (name or full source)")
    ev.add_argument("--since", metavar="WHEN", help="ISO time or relative (15m, 2h, 1d)")
    ev.add_argument("--until", metavar="WHEN", help="ISO time or relative (15m, 2h, 1d)")
    ev.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    ev.add_argument("--json", action="store_true", help="JSON lines, one CloudEvents document each")
    ev.set_defaults(run=_events)

    _add_bench(sub, common)
    _add_people_commands(sub, common)
    add_office_commands(sub, common)
    add_digest_commands(sub, common)
    add_visitor_commands(sub, common)
    add_user_commands(sub, common)
    return parser


def _add_broker_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """`gatehouse broker` and `gatehouse broker mosquitto-config`."""
    brk = sub.add_parser("broker", parents=[common], help="run the embedded broker, or write Mosquitto files")
    brk_sub = brk.add_subparsers(dest="broker_command", metavar="ACTION")
    mc = brk_sub.add_parser("mosquitto-config", parents=[common],
                            help="write mosquitto.conf, password and ACL files for a production site")
    mc.add_argument("--out", required=True, metavar="DIR", help="folder to write the files into")
    mc.add_argument("--port", type=int, default=1883, help="plain listener port (default 1883)")
    mc.add_argument("--bind", default="127.0.0.1", metavar="ADDR",
                    help="address to listen on (default 127.0.0.1; with TLS the plain listener stays on "
                    "loopback and the TLS one binds ADDR)")
    mc.add_argument("--tls-cert", metavar="FILE", help="server certificate (PEM): adds a TLS listener")
    mc.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    mc.add_argument("--ca", metavar="FILE", help="CA file for the TLS listener")
    mc.add_argument("--tls-port", type=int, default=8883, help="TLS listener port (default 8883)")
    mc.add_argument("--persist", metavar="DIR", help="Mosquitto's persistence folder "
                    "(default DATA_DIR/mosquitto)")
    brk.set_defaults(run=_broker)


def _add_device_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """`device run` and `simulate`."""
    device = sub.add_parser("device", parents=[common], help="run the devices a site file lists")
    device_sub = device.add_subparsers(dest="device_command", required=True, metavar="ACTION")
    run = device_sub.add_parser("run", parents=[common], help="run every device of the --config site "
                                "file until SIGINT/SIGTERM (docs/devices.md)")
    run.add_argument("--run-for", type=float, metavar="S", help="stop after S seconds")
    run.set_defaults(run=_device_run)

    sim = sub.add_parser("simulate", parents=[common], help="simulated devices on virtual serial ports "
                         "and synthetic videos, driven by `device run`, playing a scenario")
    sim.add_argument("--out", metavar="FILE", help="where to write the site file of the simulated "
                     "devices (default DATA_DIR/simulate/site.toml)")
    sim.add_argument("--no-run", action="store_true", help="only write the site file and keep the "
                     "simulators up; play the scenario each time Enter is pressed")
    sim.add_argument("--held-open", type=float, default=2.0, metavar="S",
                     help="the simulated door's held-open limit (default 2)")
    sim.add_argument("--camera-size", type=_size, default=(640, 360), metavar="WxH",
                     help="size of the synthetic videos (default 640x360)")
    sim.add_argument("--linger", type=float, default=3.0, metavar="S",
                     help="seconds to let the last events through before stopping (default 3)")
    sim.set_defaults(run=_simulate)


def _add_bench(sub: Any, common: argparse.ArgumentParser) -> None:
    """`bench ingest`, `bench devices`, `bench alarms`, `bench kiosk` and `bench soak`."""
    bench = sub.add_parser("bench", parents=[common], help="benchmarks that print figures")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, metavar="WHAT")
    ingest = bench_sub.add_parser("ingest", parents=[common], help="events/s stored vs a bare subscriber")
    ingest.add_argument("--events", type=int, default=20000, help="events in the throughput runs")
    ingest.add_argument("--rate", type=float, default=500.0, help="fixed rate of the latency run")
    ingest.add_argument("--seconds", type=float, default=10.0, help="length of the latency run")
    ingest.add_argument("--broker", choices=["mosquitto", "embedded"],
                        help="without --mqtt: start this broker for the run (default: Mosquitto if "
                        "installed, else the embedded one)")
    ingest.set_defaults(run=_bench_ingest)
    dev = bench_sub.add_parser("devices", parents=[common],
                               help="camera CPU per stream and badge frame -> bus latency")
    dev.add_argument("--frames", type=int, default=400, help="badge frames in the latency run (default 400)")
    dev.add_argument("--interval", type=float, default=0.01, metavar="S",
                     help="seconds between badge frames (default 0.01)")
    dev.add_argument("--camera-size", type=_size, default=(1280, 720), metavar="WxH",
                     help="camera frame size (default 1280x720)")
    dev.add_argument("--no-camera", action="store_true", help="skip the camera figures")
    dev.add_argument("--broker", choices=["mosquitto", "embedded"],
                     help="without --mqtt: start this broker for the run (default: Mosquitto if "
                     "installed, else the embedded one)")
    dev.set_defaults(run=_bench_devices)
    alarms = bench_sub.add_parser("alarms", parents=[common],
                                  help="badge.read -> alarm.raised at a station, under background load")
    alarms.add_argument("--samples", type=int, default=300, help="unknown badges timed (default 300)")
    alarms.add_argument("--rate", type=float, default=10.0, help="badges a second (default 10)")
    alarms.add_argument("--background", type=float, default=200.0, help="background events/s (default 200)")
    alarms.add_argument("--broker", choices=["mosquitto", "embedded"],
                        help="without --mqtt: only this broker (default: Mosquitto if installed, "
                        "then the embedded one)")
    alarms.set_defaults(run=_bench_alarms)
    kiosk = bench_sub.add_parser("kiosk", parents=[common], help="kiosk touches per check-in, screen change "
                                 "time and Confirm -> print time, through the real screens offscreen")
    kiosk.add_argument("--transitions", type=int, default=400, help="screen changes timed (default 400)")
    kiosk.add_argument("--prints", type=int, default=20, help="check-ins timed to the print (default 20)")
    kiosk.set_defaults(run=_bench_kiosk)
    soak = bench_sub.add_parser("soak", parents=[common], help="steady events through kill -9s and "
                                "broker restarts; ends with 'sent N stored N lost N duplicated N'")
    soak.add_argument("--minutes", type=float, default=30.0, help="how long to run (default 30)")
    soak.add_argument("--seconds", type=float, help="how long to run in seconds (overrides --minutes)")
    soak.add_argument("--rate", type=float, default=200.0, help="events/s from all devices (default 200)")
    soak.add_argument("--devices", type=int, default=4, help="device processes (default 4)")
    soak.add_argument("--fault-every", type=float, default=60.0, metavar="S",
                      help="mean seconds between random faults (default 60)")
    soak.add_argument("--faults", default="service,device,broker", metavar="KINDS",
                      help="what may be killed, comma-separated (default service,device,broker; 'none')")
    soak.add_argument("--seed", type=int, help="seed of the fault schedule (default: random, printed)")
    soak.add_argument("--broker", choices=["embedded", "mosquitto"], default="embedded",
                      help="without --mqtt: start this broker (default: the embedded one, what a new "
                      "site runs)")
    soak.set_defaults(run=_bench_soak)



def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1080x1920, got {text!r}") from None


def _position(text: str) -> tuple[int, int]:
    left, _, top = text.partition(",")
    try:
        return int(left), int(top)
    except ValueError:
        raise argparse.ArgumentTypeError(f"position must look like 40,20, got {text!r}") from None


def _kiosk(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from broker.broker_cli import client_url
    from broker.credentials import Role
    from kiosk.runner import run, screenshots

    if args.screenshots and not args.demo:
        return screenshots(Path(args.screenshots), size=args.size)
    return run(client_url(settings, args.device, Role.KIOSK), site=settings.site, device=args.device,
               data_dir=settings.data_dir, config_file=getattr(args, "config", None), scripted=args.demo,
               headless=args.headless, screenshot_dir=Path(args.screenshots) if args.screenshots else None,
               size=args.size, position=args.position)


def _station(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from broker.broker_cli import client_url
    from broker.credentials import Role
    from security.station.runner import run

    return run(client_url(settings, args.device, Role.STATION), site=settings.site, device=args.device,
               data_dir=settings.data_dir, headless=args.headless, run_for=args.run_for,
               screenshot_dir=Path(args.screenshots) if args.screenshots else None, size=args.size,
               position=args.position, operator=args.operator)


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from gatehouse.demo import run_demo

    return run_demo(settings, headless=args.headless, screenshots=args.screenshots)


def _broker(settings: Settings, args: argparse.Namespace) -> int:
    from broker.broker_cli import serve, write_mosquitto_config
    from gatehouse.device_cli import ensure_site_principals

    # the site file's devices get their principals, of their kinds, before the ACLs are made
    ensure_site_principals(settings, getattr(args, "config", None) or os.environ.get(ENV_CONFIG))

    if args.broker_command == "mosquitto-config":
        from pathlib import Path

        from broker.acl import MosquittoTls

        if bool(args.tls_cert) != bool(args.tls_key) or (args.ca and not args.tls_cert):
            raise ConfigError("give --tls-cert and --tls-key together (and --ca only with them)")
        tls = MosquittoTls(args.tls_cert, args.tls_key, args.ca, args.tls_port) if args.tls_cert else None
        for path in write_mosquitto_config(settings, Path(args.out), port=args.port, bind=args.bind,
                                           tls=tls, persistence_location=args.persist):
            print(path)
        return 0
    return serve(settings)


LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def log_handler(stream: TextIO | None = None) -> logging.Handler:
    """The handler every `gatehouse` command logs through: to `stream` (stderr), one record a line.

    Control characters in a message (a newline in an incident title, say) are escaped, so no text
    from a caller, a device or a person can forge a line of the log.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EscapingFormatter(LOG_FORMAT, datefmt="%H:%M:%S"))
    return handler


def configure_logging(level: int) -> None:
    """Log at `level` through `log_handler()`; quieten the chatty libraries."""
    logging.basicConfig(level=level, handlers=[log_handler()])
    for noisy in ("amqtt", "transitions", "kivy", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `gatehouse` command; return its exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    try:
        opts = vars(args)
        settings = load(config_file=opts.get("config"), mqtt=opts.get("mqtt"), db=opts.get("db"),
                        data_dir=opts.get("data_dir"), site=opts.get("site"))
        run: Command = args.run
        return run(settings, args)
    except ConfigError as exc:
        print(f"gatehouse: {exc}", file=sys.stderr)
        return 2
    except (StorageError, OutboxError, BrokerError, CredentialError) as exc:
        print(f"gatehouse: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
