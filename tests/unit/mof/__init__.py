"""The hvsim MOF class definitions, compiled and checked against the reference.

The reference is docs/hyperv-reference.md (sections 1-14, 17).
"""
