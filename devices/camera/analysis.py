"""One camera's analysis: a frame and its time in, motion, tamper, people and the events to emit out."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from broker.schemas import Box, CameraMotion, CameraPerson, CameraTamper, Data, TamperKind
from devices.camera.decide import Change, Cooldown, Episode
from devices.camera.frame import Frame
from devices.camera.geometry import Polygon, Zone
from devices.camera.motion import Motion, MotionConfig, MotionDetector
from devices.camera.person import Person, PersonConfig, PersonDetector
from devices.camera.tamper import TamperConfig, TamperDetector, TamperState

log = logging.getLogger(__name__)

BLANK = frozenset({TamperKind.COVERED, TamperKind.BLINDED})


@dataclass(slots=True, frozen=True)
class PolicyConfig:
    """When analysis results become events (seconds)."""

    motion_on_s: float = 0.3  # motion must last this long (two frames at 5 fps) to be reported
    motion_off_s: float = 5.0  # and be gone this long before a new motion episode can start
    person_off_s: float = 5.0  # a person unseen this long ends the person episode
    cooldown_s: float = 10.0  # at most one event of a kind per zone in this period
    person_interval_s: float = 0.4  # HOG runs at most this often, and only on motion
    detect_people: bool = True


@dataclass(slots=True, frozen=True)
class Analysis:
    """The result of one frame: what was seen and which events (type, data) to emit."""

    motion: Motion
    tamper: TamperState
    people: tuple[Person, ...] = ()
    events: tuple[tuple[str, Data], ...] = field(default=())


class CameraAnalyzer:
    """Motion, tamper and person analysis of one camera with its zones, masks and event policy."""

    def __init__(
        self,
        camera: str,
        *,
        zones: Sequence[Zone] = (),
        masks: Sequence[Polygon] = (),
        motion: MotionConfig | None = None,
        tamper: TamperConfig | None = None,
        person: PersonConfig | None = None,
        policy: PolicyConfig | None = None,
    ) -> None:
        """Set up the detectors for `camera` (its event name); zones and masks are relative polygons."""
        self.camera = camera
        self.zones = tuple(zones)
        self.policy = policy or PolicyConfig()
        self.motion = MotionDetector(motion, masks=masks)
        self.tamper = TamperDetector(tamper)
        self.people = PersonDetector(person) if self.policy.detect_people else None
        self._motion_episodes: dict[str | None, Episode] = {}
        self._person_episodes: dict[str | None, Episode] = {}
        self._cooldown = Cooldown(self.policy.cooldown_s)
        self._last_hog: float | None = None
        self._was_suspect = False

    def analyse(self, frame: Frame, now: float) -> Analysis:
        """Analyse one BGR frame taken at `now` (seconds, monotonic) and decide what to emit."""
        tamper = self.tamper.update(frame, now)
        events: list[tuple[str, Data]] = [
            ("camera.tamper", CameraTamper(camera=self.camera, kind=kind))
            for kind, change in tamper.changes if change is Change.STARTED]
        suspect = bool(tamper.suspected or tamper.active)
        if suspect and not self._was_suspect:
            self.motion.recalibrate()  # the view itself changed: what moved is meaningless
        self._was_suspect = suspect
        if tamper.suspected & BLANK or tamper.active & BLANK:
            motion = Motion()
            self.motion.recalibrate()
        else:
            motion = self.motion.detect(frame)
        events += self._motion_events(motion, now)
        people: list[Person] = []
        if self.people is not None and motion.seen and self._hog_due(now):
            people = self.people.detect(frame, motion.boxes)
            events += self._person_events(people, now)
        elif self.people is not None and not motion.seen:
            events += self._person_events([], now)
        return Analysis(motion, tamper, tuple(people), tuple(events))

    def _hog_due(self, now: float) -> bool:
        """True if the people detector may run now (it is the expensive part)."""
        if self._last_hog is not None and now - self._last_hog < self.policy.person_interval_s:
            return False
        self._last_hog = now
        return True

    def _in_zones(self, boxes: Sequence[Box]) -> dict[str | None, list[Box]]:
        """Boxes grouped by zone; the key None holds every box (the whole view)."""
        grouped: dict[str | None, list[Box]] = {None: list(boxes)}
        for zone in self.zones:
            grouped[zone.name] = [b for b in boxes if zone.holds(b)]
        return grouped

    def _motion_events(self, motion: Motion, now: float) -> list[tuple[str, Data]]:
        """camera.motion for the view and for each zone whose motion episode starts now."""
        events: list[tuple[str, Data]] = []
        for zone, boxes in self._in_zones(motion.boxes).items():
            episode = self._motion_episodes.setdefault(
                zone, Episode(self.policy.motion_on_s, self.policy.motion_off_s))
            change = episode.update(bool(boxes), now)
            if change is Change.STARTED and self._cooldown.ready(f"motion:{zone}", now):
                events.append(("camera.motion", CameraMotion(
                    camera=self.camera, score=motion.score, zone=zone, boxes=tuple(boxes[:8]))))
        return events

    def _person_events(self, people: Sequence[Person], now: float) -> list[tuple[str, Data]]:
        """camera.person for each zone (or the view, key None) where a person episode starts now."""
        events: list[tuple[str, Data]] = []
        best: dict[str | None, Person] = {}
        for person in people:  # best first: the first person per zone is the one reported
            best.setdefault(None, person)
            for zone in self.zones:
                if zone.holds(person.box):
                    best.setdefault(zone.name, person)
        for key in [None, *(z.name for z in self.zones)]:
            episode = self._person_episodes.setdefault(key, Episode(0.0, self.policy.person_off_s))
            found = best.get(key)
            change = episode.update(found is not None, now)
            if change is Change.STARTED and found is not None and self._cooldown.ready(f"person:{key}", now):
                events.append(("camera.person", CameraPerson(
                    camera=self.camera, confidence=found.confidence, box=found.box, zone=key)))
        return events
