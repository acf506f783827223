"""What each vendor's phone does, as the manual's tables in section 2.4 say.

The table below is the manual's, one row per CSTA feature and one column per
vendor, readable at a glance: Y supported, E not supported but emulated by the
server (AlternateCall = HoldCall + RetrieveCall), L limited (Gigaset's
ClearConnection), N not supported.  A feature the manual does not list for a
vendor counts as N.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

_TABLE = """
feature                       auerswald mitel snom yealink poly gigaset
MakeCall                      Y         Y     Y    Y       Y    Y
AnswerCall                    Y         Y     Y    Y       Y    Y
ClearConnection               Y         Y     Y    Y       Y    L
HoldCall                      Y         Y     Y    Y       Y    N
RetrieveCall                  Y         Y     Y    Y       Y    N
AlternateCall                 E         E     E    E       E    N
ConferenceCall                Y         Y     Y    Y       Y    N
TransferCall                  Y         Y     Y    Y       Y    N
GenerateDigits                Y         Y     Y    Y       N    N
DialDigits                    N         N     N    N       N    N
ConsultationCall              Y         Y     Y    Y       Y    N
SingleStepTransferCall        Y         Y     Y    Y       Y    N
DeflectCall                   Y         Y     Y    Y       Y    N
DirectedPickupCall            N         N     N    N       N    N
GetDoNotDisturb               Y         Y     Y    Y       N    Y
SetDoNotDisturb               Y         Y     Y    Y       N    Y
GetForwarding                 Y         Y     Y    Y       Y    N
SetForwarding                 Y         Y     Y    Y       Y    N
MonitorStart                  Y         Y     Y    Y       Y    Y
MonitorStop                   Y         Y     Y    Y       Y    Y
GetSwitchingFunctionDevices   Y         Y     Y    Y       Y    Y
SnapshotDevice                Y         Y     Y    Y       Y    Y
SnapshotCall                  N         Y     N    N       N    N
SystemRegister                Y         N     Y    N       N    N
SystemRegisterCancel          Y         N     Y    N       N    N
RequestSystemStatus           Y         Y     Y    Y       Y    Y
"""


class Support(enum.Enum):
    YES = "Y"
    EMULATED = "E"
    LIMITED = "L"
    NO = "N"


@dataclass(frozen=True)
class VendorProfile:
    name: str
    label: str
    models: str
    min_firmware: str
    features: dict[str, Support]
    # The ECMA-323 edition the server writes to this vendor (snom and Yealink
    # answer in ed5 and accept it; see docs/uacsta-protocol notes).
    edition: int = 5

    def support(self, feature: str) -> Support:
        return self.features.get(feature, Support.NO)

    def supports(self, feature: str) -> bool:
        return self.support(feature) in (Support.YES, Support.LIMITED)


def _parse() -> dict[str, dict[str, Support]]:
    lines = [line.split() for line in _TABLE.strip().splitlines()]
    vendors = lines[0][1:]
    table: dict[str, dict[str, Support]] = {v: {} for v in vendors}
    for row in lines[1:]:
        for vendor, mark in zip(vendors, row[1:], strict=True):
            table[vendor][row[0]] = Support(mark)
    return table


_FEATURES = _parse()
VENDORS: dict[str, VendorProfile] = {
    "auerswald": VendorProfile(
        "auerswald", "Auerswald", "COMfortel 1400/2600/3600 IP", "2.8A", _FEATURES["auerswald"]
    ),
    "mitel": VendorProfile(
        "mitel", "Mitel", "6863i, 6865i, 6867i, 6869i", "4.1.0 SP2", _FEATURES["mitel"]
    ),
    "snom": VendorProfile(
        "snom", "snom", "D3xx, D7xx, 3xx, 7xx, 8xx, D120", "8.7.5.13", _FEATURES["snom"]
    ),
    "yealink": VendorProfile(
        "yealink", "Yealink", "T2x, T4x, T5x, VP59", "x.81.0.15", _FEATURES["yealink"]
    ),
    "poly": VendorProfile(
        "poly", "Polycom / Poly", "VVX x01/x11/x50, CCX", "6.1.0.618g", _FEATURES["poly"]
    ),
    "gigaset": VendorProfile(
        "gigaset", "Gigaset", "N870 IP PRO with R650H/SL750H", "2.39.0", _FEATURES["gigaset"]
    ),
}
# Phones we cannot tell apart still get a session: everything is tried, and the
# phone's own answer says what it lacks.
UNKNOWN = VendorProfile("unknown", "unknown", "", "", {f: Support.YES for f in _FEATURES["snom"]})


def profile(vendor: str) -> VendorProfile:
    return VENDORS.get(vendor, UNKNOWN)
