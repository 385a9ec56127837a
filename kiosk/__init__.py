"""The visitor's touchscreen: pure walk-in flow and view-model, and a thin Kivy front end."""
