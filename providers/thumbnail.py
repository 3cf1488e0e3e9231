"""GetVirtualSystemThumbnailImage: a VM's console as raw RGB 565 pixels (Microsoft's page for the
method: "the requested image data, in raw RGB 565 format").

hvsim has no guest to show, so the console is drawn: the VM's name and state on a dark console
background with the text typed on its keyboard (providers/keyboard.py) below, at the resolution
of the VM's video head, then scaled to the requested size as a host scales its screen. A VM that
is off shows a black image. Pixels are 16-bit little-endian words (red in the top five bits),
row by row from the top left: the layout libvirt's Hyper-V driver decodes.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, ImageMath
from pywbem import CIMInstanceName

from providers import keys
from providers.base import MethodCall, MethodResult, ProviderContext, Refused, key_value
from providers.return_codes import ReturnCode
from providers.vm_devices import SCREEN_HEIGHT, SCREEN_WIDTH
from providers.vm_settings import vm_from_settings_id
from providers.world import VMRow
from storage.models import Host

VSSD_BASE = "CIM_VirtualSystemSettingData"
OFF = 3
STATE_NAMES = {2: "Running", 3: "Off", 6: "Saved", 9: "Paused", 10: "Starting",
               4: "Stopping", 32773: "Saving", 32776: "Pausing", 32777: "Resuming"}
# Lines of typed text the console keeps on screen (the oldest scroll away).
CONSOLE_LINES = 24
# Keyboard inputs read back to draw the console: enough for a screenful of typing.
CONSOLE_INPUTS = 64
BACKGROUND = (12, 12, 12)
TITLE_BAR = (0, 36, 86)
TEXT = (204, 204, 204)
ACCENT = (97, 214, 214)


def get_thumbnail_image(ctx: ProviderContext, call: MethodCall, host: Host) -> MethodResult:
    """Msvm_VirtualSystemManagementService.GetVirtualSystemThumbnailImage."""
    width = _dimension(call, "WidthPixels", SCREEN_WIDTH)
    height = _dimension(call, "HeightPixels", SCREEN_HEIGHT)
    vm = _target_vm(ctx, call)
    if vm.enabled_state == OFF or vm.planned:
        return MethodResult(ReturnCode.COMPLETED, {"ImageData": bytes(width * height * 2)})
    typed = [entry.typed for entry in ctx.uow.keyboards.recent(vm.id, CONSOLE_INPUTS)]
    screen = draw_console(vm.element_name, vm.guid, STATE_NAMES.get(vm.enabled_state, "Unknown"),
                          keys.console_text(typed))
    return MethodResult(ReturnCode.COMPLETED,
                        {"ImageData": rgb565(screen.resize((width, height),
                                                           Image.Resampling.LANCZOS))})


def _dimension(call: MethodCall, name: str, largest: int) -> int:
    value = call.param(name)
    if value is None or not 1 <= int(value) <= largest:
        raise Refused(ReturnCode.INVALID_PARAMETER,
                      f"{name} must be from 1 to {largest} (the virtual machine's screen), "
                      f"not {value}")
    return int(value)


def _target_vm(ctx: ProviderContext, call: MethodCall) -> VMRow:
    path = call.param("TargetSystem")
    if not isinstance(path, CIMInstanceName):
        raise Refused(ReturnCode.INVALID_PARAMETER, "TargetSystem is required")
    namespace = call.scope.namespace
    if not (ctx.classes.has_class(namespace, path.classname)
            and ctx.classes.is_subclass(namespace, path.classname, VSSD_BASE)):
        raise Refused(ReturnCode.INVALID_PARAMETER,
                      f"TargetSystem must name a {VSSD_BASE}, not a {path.classname}")
    instance_id = key_value(path.keybindings, "InstanceID")
    found = vm_from_settings_id(ctx, call.scope, instance_id)
    if found is None or found[1] is not None:
        raise Refused(ReturnCode.INVALID_PARAMETER,
                      f"TargetSystem {instance_id!r} is not the settings of a virtual machine "
                      f"of {call.scope.host}")
    return found[0]


def draw_console(name: str, guid: str, state: str, text: str) -> Image.Image:
    """The VM's screen: a title bar with its name and state, then the console text."""
    screen = Image.new("RGB", (SCREEN_WIDTH, SCREEN_HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(screen)
    title, body = _font(40), _font(24)
    draw.rectangle((0, 0, SCREEN_WIDTH, 72), fill=TITLE_BAR)
    draw.text((24, 14), name, font=title, fill=(255, 255, 255))
    draw.text((SCREEN_WIDTH - 24, 14), state, font=title, fill=ACCENT, anchor="ra")
    draw.text((24, 88), f"Virtual machine {guid}", font=body, fill=ACCENT)
    lines = [*text.split("\n")][-CONSOLE_LINES:]
    lines[-1] += "_"
    for row, line in enumerate(lines):
        draw.text((24, 130 + row * 26), line, font=body, fill=TEXT)
    return screen


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled font: no font files needed on the host.
    return ImageFont.load_default(size=size)


def rgb565(image: Image.Image) -> bytes:
    """Raw RGB 565, little-endian: red in bits 11-15, green 5-10, blue 0-4."""
    red, green, blue = (channel.convert("I") for channel in image.convert("RGB").split())
    packed = ImageMath.lambda_eval(
        lambda c: ((c["r"] >> 3) << 11) | ((c["g"] >> 2) << 5) | (c["b"] >> 3),
        r=red, g=green, b=blue)
    assert isinstance(packed, Image.Image)
    return packed.convert("I;16").tobytes("raw", "I;16")
