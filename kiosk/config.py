"""The kiosk's settings: the `[kiosk]` section of the TOML settings file, and its agreement texts.

```toml
[kiosk]
api_url = "http://central.lan:8080"   # the token comes from GATEHOUSE_KIOSK_TOKEN
camera = 0                            # or "rtsp://...", a video file, or "none"

[kiosk.printer]                       # left out: no printer (the badge step is skipped)
name = "kiosk-printer"
driver = "zpl"
address = "10.0.0.40:9100"            # or port = "/dev/ttyUSB0"

[kiosk.scanner]                       # left out: QR codes are read by the camera only
port = "/dev/serial/by-id/usb-Honeywell-if00"
```
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from broker.config import ENV_CONFIG, ConfigError, read_toml
from broker.schemas import VisitorType
from devices.printers.badge import BROTHER_62, ESCPOS_58, ESCPOS_80, ZEBRA_4X2, LabelSize
from devices.printers.drivers import DRIVERS, PrinterDriver
from devices.site import Name, PrinterDeviceConfig, ScannerDeviceConfig

ENV_TOKEN = "GATEHOUSE_KIOSK_TOKEN"  # noqa: S105 (the variable's name, not a secret)
"""The kiosk's bearer token for the central service's API; wins over the file."""
LABELS: dict[str, LabelSize] = {size.name: size for size in (ZEBRA_4X2, ESCPOS_80, ESCPOS_58, BROTHER_62)}
"""The label sizes a kiosk printer may use, by name."""
LabelName = Literal["zebra-4x2in", "escpos-80mm", "escpos-58mm", "brother-62mm"]


class KioskPrinterConfig(PrinterDeviceConfig):
    """The kiosk's own badge printer: a printer entry of the site file, plus its label size."""

    name: Name = Field(default="kiosk-printer", description="Printer name in badge.printed events.")
    label: LabelName | None = Field(default=None, description="Label size; default: the driver's own "
                                    "(zebra-4x2in, escpos-80mm, brother-62mm).")
    answer_timeout_s: float = Field(default=1.0, gt=0, le=10, description="Longest wait for a status answer.")

    def driver_model(self) -> PrinterDriver:
        """The driver (encoder and status query) for this printer and label."""
        driver = DRIVERS[self.driver]()
        return replace(driver, size=LABELS[self.label]) if self.label else driver


class KioskScannerConfig(ScannerDeviceConfig):
    """The kiosk's serial QR scanner: a scanner entry of the site file with a default name."""

    name: Name = Field(default="kiosk-scanner", description="Scanner name in logs.")


class KioskConfig(BaseModel):
    """Everything the kiosk needs besides the broker: the central API, devices, texts and cache."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://[^\s/]+(/\S*)?$",
                         description="Base URL of the central service's HTTP API.")
    api_token: SecretStr | None = Field(default=None, description=f"Bearer token of role kiosk; the "
                                        f"environment variable {ENV_TOKEN} wins over this.")
    api_timeout_s: float = Field(default=2.0, gt=0, le=10, description="Longest wait for one API call.")
    languages: list[str] = Field(default_factory=lambda: ["en", "id", "pl"], min_length=1,
                                 description="Languages offered on the welcome screen, in order.")
    default_language: str = Field(default="en", description="Language the kiosk starts in.")
    idle_s: float = Field(default=30.0, gt=0, description="Seconds of no touch before the kiosk resets.")
    printer: KioskPrinterConfig | None = Field(default=None, description="The kiosk's badge printer.")
    camera: int | str | None = Field(default=0, description="Camera: device index, rtsp:// or http:// URL, "
                                     "or a video file; \"none\" skips the photo step.")
    scanner: KioskScannerConfig | None = Field(default=None, description="The kiosk's serial QR scanner.")
    agreements_dir: Path | None = Field(default=None, description="Folder of <visitor_type>.<lang>.txt "
                                        "agreements; missing ones come from the shipped set.")
    cache_dir: Path | None = Field(default=None, description="Offline cache; default DATA_DIR/kiosk-cache.")
    refresh_s: float = Field(default=300.0, ge=5, description="Seconds between refreshes of the cache.")
    screen_threshold: float = Field(default=0.88, gt=0, le=1, description="Watchlist score that is a match.")
    screen_company: bool = Field(default=False, description="Also screen the company against the watchlist.")

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        """Each language a short lowercase code, none twice."""
        for code in value:
            if not (2 <= len(code) <= 3 and code.isascii() and code.isalpha() and code.islower()):
                raise ValueError(f"language must be a 2-3 letter lowercase code, got {code!r}")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value

    @field_validator("camera", mode="before")
    @classmethod
    def _camera_none(cls, value: object) -> object:
        """The word "none" (or an empty string) switches the camera off; "0" is device 0."""
        if isinstance(value, str):
            text = value.strip()
            if text.lower() in ("", "none"):
                return None
            return int(text) if text.isdigit() else text
        return value

    @model_validator(mode="after")
    def _default_offered(self) -> KioskConfig:
        """The default language must be one offered."""
        if self.default_language not in self.languages:
            raise ValueError(f"default_language {self.default_language!r} is not in languages")
        return self

    def token(self) -> str | None:
        """The API token in clear, for the Authorization header only."""
        return self.api_token.get_secret_value() if self.api_token else None


def parse_kiosk(
    doc: Mapping[str, Any], *, data_dir: Path, environ: Mapping[str, str] | None = None,
    where: str = "settings", folder: Path | None = None,
) -> KioskConfig:
    """The `[kiosk]` section of a parsed settings document, completed from the environment."""
    env = os.environ if environ is None else environ
    section = doc.get("kiosk", {})
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: 'kiosk' must be a table")
    values = dict(section)
    if env.get(ENV_TOKEN):
        values["api_token"] = env[ENV_TOKEN]
    try:
        config = KioskConfig.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"kiosk.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{where}: {problems}") from None
    base = folder or Path()
    update: dict[str, Any] = {"cache_dir": base / config.cache_dir if config.cache_dir
                              else data_dir / "kiosk-cache"}
    if config.agreements_dir is not None:
        update["agreements_dir"] = base / config.agreements_dir
    if isinstance(config.camera, str) and "://" not in config.camera:
        update["camera"] = str(base / config.camera)
    return config.model_copy(update=update)


def load_kiosk(
    config_file: str | Path | None, *, data_dir: Path, environ: Mapping[str, str] | None = None
) -> KioskConfig:
    """Read the kiosk's settings from the TOML file (or $GATEHOUSE_CONFIG); defaults if there is none."""
    env = os.environ if environ is None else environ
    path = config_file or env.get(ENV_CONFIG)
    if not path:
        return parse_kiosk({}, data_dir=data_dir, environ=env)
    path = Path(path)
    return parse_kiosk(read_toml(path), data_dir=data_dir, environ=env, where=f"config file {path}",
                       folder=path.resolve().parent)


class FileAgreements:
    """`Agreements`: the text files of `agreements_dir`, else the shipped ones."""

    def __init__(self, config: KioskConfig) -> None:
        """Read agreements as `config` says."""
        self._config = config
        self._read: dict[tuple[str, str], tuple[str, str]] = {}

    def text(self, visitor_type: VisitorType, language: str) -> tuple[str, str]:
        """(name, text): the name is the visitor type and a hash of the exact text signed."""
        key = (VisitorType(visitor_type).value, language)
        if key not in self._read:
            text = agreement_text(self._config, visitor_type, language)
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
            self._read[key] = (f"{key[0]}-{digest}", text)
        return self._read[key]

    def preload(self, languages: tuple[str, ...]) -> int:
        """Read every agreement in `languages` now (before the window opens: no disk read on a touch).

        Returns how many were read; one that cannot be read is left to `text` to raise later.
        """
        for kind in VisitorType:
            for language in languages:
                try:
                    self.text(kind, language)
                except (OSError, KeyError, UnicodeDecodeError):
                    continue
        return len(self._read)


def agreement_text(config: KioskConfig, visitor_type: VisitorType | str, language: str) -> str:
    """The agreement for `visitor_type` in `language`: the site's own file, else the shipped one.

    Falls back to the default language, then English; KeyError if there is none at all.
    """
    kind = VisitorType(visitor_type).value
    for lang in dict.fromkeys((language, config.default_language, "en")):
        name = f"{kind}.{lang}.txt"
        if config.agreements_dir is not None:
            own = config.agreements_dir / name
            if own.is_file():
                return own.read_text(encoding="utf-8").strip()
        shipped = resources.files("kiosk").joinpath("agreements", name)
        if shipped.is_file():
            return shipped.read_text(encoding="utf-8").strip()
    raise KeyError(f"no agreement for {kind} in {language} or the fallbacks")
