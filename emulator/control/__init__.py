"""The control API at /_hvsim/ on every host endpoint: JSON over HTTP for people and tools
that drive or inspect the emulator itself (request log, conformance report, ...).

A front end like CIM-XML and WS-Man: it reads the world through the core and the request log,
never storage or providers. `app.create_control_app` builds it from one module per route group.
"""
