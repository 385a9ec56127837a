"""The kiosk's visitor flows as one pure machine: `next_step(state, intent) -> state`, no Kivy.

`state` (the session, steps, outcomes), `intents` (what a visitor or an adapter did), `values`
(cleaning typed text, signatures), `machine` (the transitions), `texts` (every visitor-facing
string) and `view` (what one screen shows). The machine's public names are re-exported here.
"""

from kiosk.flow.machine import COUNTDOWN_FROM, INITIAL, MAX_RESULTS, next_step, progress_steps, ready

__all__ = ["COUNTDOWN_FROM", "INITIAL", "MAX_RESULTS", "next_step", "progress_steps", "ready"]
