"""Msvm_Keyboard's input methods: TypeKey, PressKey, ReleaseKey, IsKeyPressed, TypeText,
TypeScancodes and TypeCtrlAltDel, as Microsoft's Msvm_Keyboard pages describe them.

Input reaches only a running VM (any other state answers 32775, invalid state). What was sent is
kept per VM in the store (a bounded record, so every process sharing the database sees it; the
thumbnail draws it as console text) and logged on `hvsim.keyboard` at DEBUG; keys held down
by PressKey stay down until ReleaseKey or the VM's next state change.
"""

from __future__ import annotations

import logging

from pywbem import CIMInstanceName

from providers import keys, world
from providers.base import V2, MethodCall, MethodResult, ProviderContext, Refused, key_value
from providers.method_table import MethodTable
from providers.return_codes import ReturnCode
from providers.vm_setting_ids import KEYBOARD
from providers.world import VMRow

log = logging.getLogger("hvsim.keyboard")

RUNNING = 2
# How many inputs each VM's record keeps (the oldest go first).
KEEP_INPUTS = 256
# TypeText answers 1 for text with characters it cannot translate into key strokes (the remark
# on Microsoft's TypeText page), a code outside its ValueMap.
UNTRANSLATABLE_TEXT = 1


class KeyboardMethods(MethodTable[VMRow]):
    classnames = (KEYBOARD,)
    namespaces = (V2,)
    log = log

    def __init__(self) -> None:
        super().__init__({
            "typekey": self._type_key,
            "presskey": self._press_key,
            "releasekey": self._release_key,
            "iskeypressed": self._is_key_pressed,
            "typetext": self._type_text,
            "typescancodes": self._type_scancodes,
            "typectrlaltdel": self._type_ctrl_alt_del,
        })

    def target(self, ctx: ProviderContext, call: MethodCall) -> VMRow:
        assert isinstance(call.target, CIMInstanceName)
        guid = str(key_value(call.target.keybindings, "SystemName") or "")
        vm = world.vm_by_guid(ctx, call.scope, guid, planned=False)
        assert vm is not None  # the dispatcher resolved the keyboard, so its VM exists
        return vm

    def describe(self, target: VMRow) -> str:
        return f"the keyboard of {target.element_name}"

    # --------------------------------------------------------------------------- keys

    def _type_key(self, ctx: ProviderContext, call: MethodCall, vm: VMRow) -> MethodResult:
        code = _key_code(call)
        _running(ctx, vm)
        down = _keys_down(ctx, vm)
        typed = keys.key_character(code, shifted=bool(down & {keys.VK_LSHIFT, keys.VK_RSHIFT}))
        _record(ctx, vm, call.method, keys.key_name(code), typed)
        return MethodResult(ReturnCode.COMPLETED, {})

    def _press_key(self, ctx: ProviderContext, call: MethodCall, vm: VMRow) -> MethodResult:
        code = keys.physical_key(_key_code(call))
        _running(ctx, vm)
        down = _keys_down(ctx, vm)
        typed = keys.key_character(code, shifted=bool(down & {keys.VK_LSHIFT, keys.VK_RSHIFT}))
        ctx.uow.keyboards.press(vm.id, code, at=ctx.now())
        _record(ctx, vm, call.method, keys.key_name(code), typed)
        return MethodResult(ReturnCode.COMPLETED, {})

    def _release_key(self, ctx: ProviderContext, call: MethodCall, vm: VMRow) -> MethodResult:
        code = keys.physical_key(_key_code(call))
        _running(ctx, vm)
        ctx.uow.keyboards.release(vm.id, code)
        _record(ctx, vm, call.method, keys.key_name(code), "")
        return MethodResult(ReturnCode.COMPLETED, {})

    def _is_key_pressed(self, ctx: ProviderContext, call: MethodCall, vm: VMRow
                        ) -> MethodResult:
        code = _key_code(call)
        _running(ctx, vm)
        down = code in _keys_down(ctx, vm)
        return MethodResult(ReturnCode.COMPLETED, {"keyState": down})

    # --------------------------------------------------------------------- sequences

    def _type_text(self, ctx: ProviderContext, call: MethodCall, vm: VMRow) -> MethodResult:
        text = call.param("asciiText")
        if text is None:
            raise Refused(ReturnCode.INVALID_PARAMETER, "asciiText is required")
        text = str(text)
        bad = keys.untypeable(text)
        if bad is not None:
            raise Refused(UNTRANSLATABLE_TEXT,
                          f"asciiText holds {bad!r} (U+{ord(bad):04X}), which has no key to type")
        _running(ctx, vm)
        _record(ctx, vm, call.method, repr(text), text)
        return MethodResult(ReturnCode.COMPLETED, {})

    def _type_scancodes(self, ctx: ProviderContext, call: MethodCall, vm: VMRow
                        ) -> MethodResult:
        codes = call.param("Scancodes")
        if not codes:
            raise Refused(ReturnCode.INVALID_PARAMETER, "Scancodes must hold at least one byte")
        values = [int(code) for code in codes]
        _running(ctx, vm)
        _record(ctx, vm, call.method, " ".join(f"{c:02X}" for c in values),
                keys.scancode_characters(values))
        return MethodResult(ReturnCode.COMPLETED, {})

    def _type_ctrl_alt_del(self, ctx: ProviderContext, call: MethodCall, vm: VMRow
                           ) -> MethodResult:
        _running(ctx, vm)
        _record(ctx, vm, call.method, "Ctrl+Alt+Del", "")
        return MethodResult(ReturnCode.COMPLETED, {})


def _key_code(call: MethodCall) -> int:
    code = call.param("keyCode")
    if code is None:
        raise Refused(ReturnCode.INVALID_PARAMETER, "keyCode is required")
    if not keys.is_key_code(int(code)):
        raise Refused(ReturnCode.INVALID_PARAMETER,
                      f"keyCode {int(code)} is not a virtual-key code (1 to 254)")
    return int(code)


def _running(ctx: ProviderContext, vm: VMRow) -> None:
    if vm.enabled_state != RUNNING:
        raise Refused(ReturnCode.INVALID_STATE,
                      f"{vm.element_name} is not running (EnabledState {vm.enabled_state}); "
                      "keyboard input needs a running virtual machine")


def _keys_down(ctx: ProviderContext, vm: VMRow) -> set[int]:
    return ctx.uow.keyboards.keys_down(vm.id, since=vm.state_changed_at)


def _record(ctx: ProviderContext, vm: VMRow, method: str, detail: str, typed: str) -> None:
    ctx.uow.keyboards.record(vm.id, at=ctx.now(), method=method, detail=detail, typed=typed,
                             keep=KEEP_INPUTS)
    log.debug("%s (%s) %s %s", vm.element_name, vm.guid, method, detail)
