"""What a vendor's home fills in: its row of the manual's feature table
(section 2.4), its models and minimum firmware, how its User-Agent reads, its
MAC prefixes, its uaCSTA account and its web interface.

A row names what the vendor does not do fully; every other feature of
:data:`FEATURES` is supported.  Y supported, E not supported but emulated by
the server (AlternateCall = HoldCall + RetrieveCall), L limited (Gigaset's
ClearConnection), N not supported.  A feature the manual does not list for a
vendor counts as N.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .accounts import VendorAccount
from .web import Dialect

# The manual's feature table, its rows in its order.
FEATURES = (
    "MakeCall",
    "AnswerCall",
    "ClearConnection",
    "HoldCall",
    "RetrieveCall",
    "AlternateCall",
    "ConferenceCall",
    "TransferCall",
    "GenerateDigits",
    "DialDigits",
    "ConsultationCall",
    "SingleStepTransferCall",
    "DeflectCall",
    "DirectedPickupCall",
    "GetDoNotDisturb",
    "SetDoNotDisturb",
    "GetForwarding",
    "SetForwarding",
    "MonitorStart",
    "MonitorStop",
    "GetSwitchingFunctionDevices",
    "SnapshotDevice",
    "SnapshotCall",
    "SystemRegister",
    "SystemRegisterCancel",
    "RequestSystemStatus",
)


class Support(enum.Enum):
    YES = "Y"
    EMULATED = "E"
    LIMITED = "L"
    NO = "N"


def features(
    *, no: Iterable[str] = (), emulated: Iterable[str] = (), limited: Iterable[str] = ()
) -> dict[str, Support]:
    """A vendor's row: every feature supported but those named."""
    row = dict.fromkeys(FEATURES, Support.YES)
    for names, mark in ((no, Support.NO), (emulated, Support.EMULATED), (limited, Support.LIMITED)):
        for name in names:
            if name not in row:
                raise ValueError(f"{name} is not a feature of the manual's table")
            row[name] = mark
    return row


@dataclass(frozen=True)
class VendorProfile:
    name: str
    label: str
    models: str
    min_firmware: str
    features: dict[str, Support]
    # User-Agent patterns, each with the groups model and firmware.
    user_agents: tuple[re.Pattern[str], ...] = ()
    # MAC prefixes, for a User-Agent we cannot read.
    ouis: tuple[str, ...] = ()
    account: VendorAccount | None = None
    dialect: Dialect | None = None
    # The ECMA-323 edition the server writes to this vendor (snom and Yealink
    # answer in ed5 and accept it; see docs/uacsta-protocol notes).
    edition: int = 5
    notes: tuple[str, ...] = field(default=())

    def account_keys(self) -> list[str]:
        """The settings to read first from a web interface that reads by name."""
        return self.account.keys() if self.account is not None else []

    def support(self, feature: str) -> Support:
        return self.features.get(feature, Support.NO)

    def supports(self, feature: str) -> bool:
        return self.support(feature) in (Support.YES, Support.LIMITED)
