"""CIM libraries that know nothing of hvsim: WQL and object paths.

Nothing here imports the rest of the emulator, the providers, storage or a web framework
(tests/architecture/test_layers.py holds it to that), so these modules can be read, tested
and reused on their own.
"""
