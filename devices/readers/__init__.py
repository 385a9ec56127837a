"""Badge readers: RDM6300 and Wiegand-26 decoders, OSDP through libosdp, debouncing, the agents.

`rdm6300` and `wiegand` are pure decoders and encoders, `debounce` the pure repeat filter every
reader agent uses, `badge_agent` the serial agents that emit `badge.read`, `sim_wiegand` a
simulated converter, `osdp` the OSDP control panel and simulated readers. Nothing is
re-exported: importing a pure decoder must not import pyserial.
"""
