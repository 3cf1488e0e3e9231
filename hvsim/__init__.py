"""hvsim's public Python names for its users; the implementation lives in `emulator`.

`import hvsim.testing` gives the test harness (`Emulator`) under the distribution's own name.
"""
