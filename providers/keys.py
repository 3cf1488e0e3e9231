"""Keyboard input as Hyper-V's Msvm_Keyboard takes it: Windows virtual-key codes, ASCII text and
PC scan codes (set 1), named for the log and turned into the characters a console would show.

Pure functions: the keyboard methods (providers/keyboard.py) validate and record with them, the
thumbnail (providers/thumbnail.py) draws what they typed.
"""

from __future__ import annotations

from collections.abc import Iterable

# Virtual-key codes are one byte; 0 and 0xFF name no key.
FIRST_KEY, LAST_KEY = 0x01, 0xFE
VK_BACK, VK_TAB, VK_RETURN = 0x08, 0x09, 0x0D
VK_SHIFT, VK_CONTROL, VK_MENU = 0x10, 0x11, 0x12
VK_LSHIFT, VK_RSHIFT, VK_LCONTROL, VK_LMENU = 0xA0, 0xA1, 0xA2, 0xA4
# PressKey and ReleaseKey act on the left key for the generic modifiers, so IsKeyPressed never
# reports the generic ones down (Microsoft's IsKeyPressed remarks).
GENERIC_MODIFIERS = {VK_SHIFT: VK_LSHIFT, VK_CONTROL: VK_LCONTROL, VK_MENU: VK_LMENU}

_NAMES = {
    VK_BACK: "Backspace", VK_TAB: "Tab", VK_RETURN: "Enter", VK_SHIFT: "Shift",
    VK_CONTROL: "Ctrl", VK_MENU: "Alt", 0x13: "Pause", 0x14: "CapsLock", 0x1B: "Esc",
    0x20: "Space", 0x21: "PageUp", 0x22: "PageDown", 0x23: "End", 0x24: "Home",
    0x25: "Left", 0x26: "Up", 0x27: "Right", 0x28: "Down", 0x2C: "PrintScreen",
    0x2D: "Insert", 0x2E: "Delete", 0x5B: "LWin", 0x5C: "RWin", 0x5D: "Apps",
    VK_LSHIFT: "LShift", VK_RSHIFT: "RShift", VK_LCONTROL: "LCtrl", 0xA3: "RCtrl",
    VK_LMENU: "LAlt", 0xA5: "RAlt",
}
_NAMES.update({0x30 + d: str(d) for d in range(10)})
_NAMES.update({0x41 + i: chr(0x41 + i) for i in range(26)})
_NAMES.update({0x60 + d: f"Num{d}" for d in range(10)})
_NAMES.update({0x70 + f: f"F{f + 1}" for f in range(24)})

# Set-1 make codes of the keys that type a character on a US layout (break codes add 0x80).
_SCAN_CHARACTERS = {
    0x0E: "\b", 0x0F: "\t", 0x1C: "\n", 0x39: " ",
    **{0x02 + i: c for i, c in enumerate("1234567890-=")},
    **{0x10 + i: c for i, c in enumerate("qwertyuiop[]")},
    **{0x1E + i: c for i, c in enumerate("asdfghjkl;'`")},
    **{0x2B + i: c for i, c in enumerate("\\zxcvbnm,./")},
}
_SCAN_SHIFTS = {0x2A, 0x36}
SCAN_EXTENDED = 0xE0
SCAN_BREAK = 0x80
# What TypeText can type: printable ASCII and the control characters that have a key.
_TYPEABLE_CONTROLS = "\b\t\n\r"


def is_key_code(code: int) -> bool:
    return FIRST_KEY <= code <= LAST_KEY


def physical_key(code: int) -> int:
    """The key PressKey/ReleaseKey act on: the left one for Shift, Ctrl and Alt."""
    return GENERIC_MODIFIERS.get(code, code)


def key_name(code: int) -> str:
    return _NAMES.get(code, f"VK 0x{code:02X}")


def key_character(code: int, *, shifted: bool) -> str:
    """What a key types on a US layout ("" for keys that type nothing)."""
    if 0x41 <= code <= 0x5A:
        return chr(code) if shifted else chr(code).lower()
    if 0x30 <= code <= 0x39 and not shifted:
        return chr(code)
    if 0x60 <= code <= 0x69:
        return chr(code - 0x30)
    return {VK_BACK: "\b", VK_TAB: "\t", VK_RETURN: "\n", 0x20: " "}.get(code, "")


def untypeable(text: str) -> str | None:
    """The first character of `text` TypeText cannot type, None when it can type them all."""
    for character in text:
        if not (" " <= character <= "~" or character in _TYPEABLE_CONTROLS):
            return character
    return None


def scancode_characters(codes: Iterable[int]) -> str:
    """What a sequence of set-1 scan codes types on a US layout."""
    typed, shifted, extended = [], False, False
    for code in codes:
        if code == SCAN_EXTENDED:
            extended = True
            continue
        make, released = code & ~SCAN_BREAK, bool(code & SCAN_BREAK)
        if make in _SCAN_SHIFTS and not extended:
            shifted = not released
        elif not released and not extended and make in _SCAN_CHARACTERS:
            character = _SCAN_CHARACTERS[make]
            typed.append(character.upper() if shifted else character)
        extended = False
    return "".join(typed)


def console_text(typed: Iterable[str]) -> str:
    """The text a console shows after these inputs: backspaces erase, CR is a line end."""
    shown: list[str] = []
    for character in "".join(typed).replace("\r\n", "\n").replace("\r", "\n"):
        if character == "\b":
            if shown and shown[-1] != "\n":
                shown.pop()
        else:
            shown.append(" " * 4 if character == "\t" else character)
    return "".join(shown)
