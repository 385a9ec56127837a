"""OSDP (IEC 60839-11-5) through libosdp: a control panel agent and simulated readers."""

from devices.readers.osdp.channel import RefreshLoop, SerialChannel
from devices.readers.osdp.keys import OsdpKeyError, check_site_key, parse_scbk
from devices.readers.osdp.reader import OsdpReaderAgent, OsdpReaderConfig
from devices.readers.osdp.simulator import SimulatedOsdpBus, SimulatedOsdpReader

__all__ = [
    "OsdpKeyError",
    "OsdpReaderAgent",
    "OsdpReaderConfig",
    "RefreshLoop",
    "SerialChannel",
    "SimulatedOsdpBus",
    "SimulatedOsdpReader",
    "check_site_key",
    "parse_scbk",
]
