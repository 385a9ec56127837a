"""The guard station: a pure view-model of the live feed and devices, and a thin Kivy window."""
