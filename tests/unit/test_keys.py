"""Keyboard input as the console shows it: key codes, scan codes, text."""

from __future__ import annotations

from providers import keys


def test_keys_type_the_characters_of_a_us_layout() -> None:
    assert keys.key_character(0x41, shifted=False) == "a"
    assert keys.key_character(0x41, shifted=True) == "A"
    assert keys.key_character(keys.VK_RETURN, shifted=False) == "\n"
    assert keys.key_character(0x70, shifted=False) == ""  # F1 types nothing
    assert keys.physical_key(keys.VK_SHIFT) == keys.VK_LSHIFT
    assert (keys.key_name(0x0D), keys.key_name(0x74), keys.key_name(0xE9)) == (
        "Enter", "F5", "VK 0xE9")


def test_scan_codes_follow_shift_and_ignore_breaks_and_extended_keys() -> None:
    # Shift down, h, Shift up, i, Enter; an extended key (right Ctrl) types nothing.
    assert keys.scancode_characters([0x2A, 0x23, 0xA3, 0xAA, 0x17, 0x97, 0xE0, 0x1D, 0x1C]) \
        == "Hi\n"


def test_text_and_the_console() -> None:
    assert keys.untypeable("ls -l\tx\n") is None
    assert keys.untypeable("caf\u00e9") == "\u00e9"
    assert keys.untypeable("a\x01") == "\x01"
    assert keys.console_text(["abc\b\bd", "\r\nx", "\b\b"]) == "ad\n"
