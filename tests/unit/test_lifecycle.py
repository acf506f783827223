"""The phone lifecycle table (phones/lifecycle.py): every transition, one mutator."""

from __future__ import annotations

import itertools

import pytest

from uacsta.phones.lifecycle import STATUS, TRANSITIONS, Lifecycle, Phase, Trigger

P, T = Phase, Trigger


def path(*triggers: Trigger) -> list[Phase]:
    life = Lifecycle("000413000001")
    out = []
    for trigger in triggers:
        life.fire(trigger, "test")
        out.append(life.phase)
    return out


def test_a_phone_comes_up() -> None:
    assert path(T.REGISTERED, T.DIALOG_UP, T.REGISTERED) == [P.INVITING, P.UP, P.UP]


def test_a_lost_dialog_is_recovered_on_the_same_registration() -> None:
    assert path(T.REGISTERED, T.DIALOG_UP, T.DIALOG_LOST, T.RETRY_DUE, T.DIALOG_LOST) == [
        P.INVITING,
        P.UP,
        P.RECOVERING,
        P.INVITING,
        P.RECOVERING,
    ]
    # a REGISTER while recovering says the phone is there: INVITE at once
    assert path(T.REGISTERED, T.DIALOG_LOST, T.REGISTERED)[-1] is P.INVITING


def test_disabled_and_enabled() -> None:
    assert path(T.REGISTERED, T.DIALOG_UP, T.DISABLED, T.CLOSED, T.REGISTERED) == [
        P.INVITING,
        P.UP,
        P.CLOSING,
        P.IDLE,
        P.INVITING,
    ]
    assert path(T.DISABLED, T.DISABLED) == [P.IDLE, P.IDLE]  # registered while disabled
    assert path(T.REGISTERED, T.DIALOG_LOST, T.DISABLED)[-1] is P.CLOSING


@pytest.mark.parametrize("phase", list(Phase))
def test_unregistered_from_anywhere_is_offline(phase: Phase) -> None:
    life = Lifecycle("x", phase)
    life.fire(T.UNREGISTERED)
    assert life.phase is P.OFFLINE


def test_moves_not_in_the_table_change_nothing() -> None:
    for phase, trigger in itertools.product(Phase, Trigger):
        life = Lifecycle("x", phase)
        was = life.fire(trigger, "why")
        expected = TRANSITIONS.get((phase, trigger), phase)
        assert life.phase is expected
        assert (was is None) == (expected is phase)


def test_attempts_count_invites_since_the_last_up() -> None:
    life = Lifecycle("x")
    for trigger in (T.REGISTERED, T.DIALOG_LOST, T.RETRY_DUE, T.DIALOG_LOST, T.RETRY_DUE):
        life.fire(trigger)
    assert life.attempts == 3
    life.fire(T.DIALOG_UP)
    assert life.attempts == 0


def test_the_status_column_comes_from_the_phase() -> None:
    assert set(STATUS) == set(Phase)
    assert STATUS[P.UP] == "controllable"
    assert STATUS[P.OFFLINE] == "offline"
    assert STATUS[P.RECOVERING] == "recovering"
    assert {STATUS[p] for p in (P.IDLE, P.INVITING, P.CLOSING)} == {"registered"}


def test_every_transition_is_logged_with_the_mac(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="uacsta.lifecycle")
    life = Lifecycle("000413000001")
    life.fire(T.REGISTERED, "registered from 10.0.0.9")
    (record,) = caplog.records
    assert record.tag == "000413000001"  # type: ignore[attr-defined]
    assert (
        record.getMessage() == "phone 000413000001: offline -> inviting (registered from 10.0.0.9)"
    )
