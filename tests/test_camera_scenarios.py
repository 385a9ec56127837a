"""Synthetic videos with known ground truth through the real capture, analysis and agent.

Each scenario is written as an MJPG .avi, read back with cv2.VideoCapture at 5 fps, analysed
by a CameraAgent, and scored per frame: precision and recall are printed and held to floors.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from broker.schemas import CameraMotion, CameraPerson, CameraTamper, TamperKind
from devices.camera.agent import CameraAgent
from devices.camera.analysis import CameraAnalyzer, PolicyConfig
from devices.camera.capture import FrameSource, SnapshotWriter
from devices.camera.geometry import Zone, iou
from devices.camera.synthetic import PERSON_ZONE, Scenario, scenario
from tests.camera_support import precision_recall
from tests.support import RecordingEmitter

TAMPER = [TamperKind.COVERED, TamperKind.BLINDED, TamperKind.DEFOCUSED, TamperKind.MOVED]


@dataclass
class Run:
    """What the agent saw, frame by frame, and what it emitted."""

    scenario: Scenario
    emitter: RecordingEmitter
    motion: set[int] = field(default_factory=set)
    tamper: dict[TamperKind, set[int]] = field(default_factory=dict)
    people: dict[int, list[float]] = field(default_factory=dict)  # frame -> IoU with the truth per person
    snapshots: list[Path] = field(default_factory=list)


def play(name: str, tmp_path: Path) -> Run:
    """Write scenario `name` to a video file and run a camera agent over it."""
    sc = scenario(name)
    video = sc.write(tmp_path / f"{name}.avi")
    emitter = RecordingEmitter("lobby", "cam-1")
    analyzer = CameraAnalyzer("cam-1", zones=[Zone("door", PERSON_ZONE)],
                              policy=PolicyConfig(person_interval_s=0.0))
    agent = CameraAgent(analyzer, emitter, snapshots=SnapshotWriter(tmp_path / "snapshots"))
    run = Run(sc, emitter)
    source = FrameSource(str(video), fps=sc.fps)
    for index, (_, frame) in enumerate(source.frames(threading.Event())):
        agent.process(frame, index / sc.fps)
        assert agent.last is not None
        if agent.last.motion.seen:
            run.motion.add(index)
        for kind in agent.last.tamper.active:
            run.tamper.setdefault(kind, set()).add(index)
        if agent.last.people:
            truth = sc.truth.people.get(index)
            run.people[index] = [0.0 if truth is None else iou(p.box, truth) for p in agent.last.people]
    assert agent.frames == sc.count, "every frame of the file is analysed at its own 5 fps"
    run.snapshots = sorted((tmp_path / "snapshots").glob("*.jpg"))
    return run


@pytest.mark.parametrize("name", ["static", "lights"])
def test_a_static_scene_with_noise_and_light_changes_yields_no_events(name: str, tmp_path: Path) -> None:
    run = play(name, tmp_path)
    print(f"\n{name}: motion frames {len(run.motion)}, tamper {run.tamper}, events {run.emitter.types()}")
    assert run.motion == set()
    assert run.tamper == {}
    assert run.emitter.calls == []
    assert run.snapshots == []


def test_a_moving_block_is_motion_between_its_frames(tmp_path: Path) -> None:
    run = play("motion", tmp_path)
    precision, recall = precision_recall(run.motion, run.scenario.truth.motion)
    print(f"\nmotion: precision {precision:.2f} recall {recall:.2f}")
    assert precision >= 0.95
    assert recall >= 0.9
    assert run.tamper == {}, "something moving in front of the camera is not tampering"
    motions = [d for t, d in run.emitter.calls if isinstance(d, CameraMotion)]
    assert [m.zone for m in motions] == [None, "door"], "one episode for the view, one for the zone"
    assert all(m.boxes and 0 < m.score <= 1 for m in motions)
    assert run.people == {}, "HOG finds no person in a moving block"
    assert run.emitter.types().count("camera.snapshot") == len(motions) == len(run.snapshots)


@pytest.mark.parametrize("kind", TAMPER)
def test_tamper_is_detected_once_per_episode(kind: TamperKind, tmp_path: Path) -> None:
    run = play(kind.value, tmp_path)
    truth = run.scenario.truth
    assert truth.tamper is kind
    precision, recall = precision_recall(run.tamper.get(kind, set()), truth.tamper_frames)
    print(f"\n{kind}: precision {precision:.2f} recall {recall:.2f} (onset needs 1 s of evidence);"
          f" motion frames {len(run.motion)}")
    assert precision >= 0.95
    assert recall >= 0.85
    assert set(run.tamper) == {kind}, "no other kind of tamper is reported"
    assert run.motion == set(), "a covered, blinded, blurred or moved view is not motion"
    tampers = [d for t, d in run.emitter.calls if isinstance(d, CameraTamper)]
    assert tampers == [CameraTamper(camera="cam-1", kind=kind)]
    assert run.emitter.types() == ["camera.tamper", "camera.snapshot"]


def test_a_person_crossing_into_a_zone_is_detected(tmp_path: Path) -> None:
    """HOG does detect the drawn silhouette (head, shoulders, arms, two legs) used here."""
    run = play("person", tmp_path)
    truth = run.scenario.truth
    matched = {i for i, ious in run.people.items() if any(v >= 0.3 for v in ious)}
    detections = sum(len(v) for v in run.people.values())
    good = sum(1 for ious in run.people.values() for v in ious if v >= 0.3)
    precision = good / detections if detections else 1.0
    _, recall = precision_recall(matched, set(truth.people))
    m_precision, m_recall = precision_recall(run.motion, truth.motion)
    print(f"\nperson: precision {precision:.2f} recall {recall:.2f} ({detections} detections);"
          f" motion precision {m_precision:.2f} recall {m_recall:.2f}")
    assert precision >= 0.9
    assert recall >= 0.6
    assert m_precision >= 0.95
    assert m_recall >= 0.9
    assert run.tamper == {}
    persons = [d for t, d in run.emitter.calls if isinstance(d, CameraPerson)]
    assert [p.zone for p in persons] == [None, "door"]
    door = persons[1]
    assert door.box.x + door.box.w / 2 > 0.5, "reported once the feet are in the zone"
    assert all(0.4 <= p.confidence <= 1 for p in persons)
