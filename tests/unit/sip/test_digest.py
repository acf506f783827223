from __future__ import annotations

import pytest

from uacsta.sip import SipParseError
from uacsta.sip.digest import (
    DigestServer,
    Verdict,
    answer_challenge,
    compute_ha1,
    compute_response,
    parse_auth_params,
    parse_credentials,
    same_uri,
)

SECRET = b"k" * 32


def make(alg: str = "MD5", lifetime: float = 300) -> DigestServer:
    return DigestServer("uacsta", SECRET, nonce_lifetime=lifetime, algorithms=(alg,))


def test_rfc2617_example_vector() -> None:
    # The worked example of RFC 2617 section 3.5.
    ha1 = compute_ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    resp = compute_response(
        ha1=ha1,
        algorithm="MD5",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert resp == "6629fae49393a05397450978507c4ef1"


def test_rfc7616_sha256_vector() -> None:
    # The SHA-256 example of RFC 7616 section 3.9.1.
    ha1 = compute_ha1("Mufasa", "http-auth@example.org", "Circle of Life", "SHA-256")
    resp = compute_response(
        ha1=ha1,
        algorithm="SHA-256",
        method="GET",
        uri="/dir/index.html",
        nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        qop="auth",
        nc="00000001",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert resp == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


@pytest.mark.parametrize("alg", ["MD5", "SHA-256"])
def test_client_and_server_agree(alg: str) -> None:
    server = make(alg)
    (challenge,) = server.challenges(now=1000.0)
    auth = answer_challenge(
        challenge.header_value(),
        method="REGISTER",
        uri="sip:uacsta",
        username="000413AABBCC",
        password="pw",
    )
    creds = parse_credentials(auth)
    ha1 = compute_ha1("000413AABBCC", "uacsta", "pw", alg)
    assert server.verify(creds, "REGISTER", ha1, now=1001.0) is Verdict.OK
    # the same nonce count again is a replay
    assert server.verify(creds, "REGISTER", ha1, now=1002.0) is Verdict.REPLAY
    wrong = compute_ha1("000413AABBCC", "uacsta", "nope", alg)
    assert server.verify(creds, "REGISTER", wrong, now=1002.0) is Verdict.BAD_RESPONSE


def test_nonce_count_must_grow() -> None:
    server = make()
    (ch,) = server.challenges(now=0.0)
    ha1 = compute_ha1("u", "uacsta", "p")
    for nc, verdict in [
        (1, Verdict.OK),
        (2, Verdict.OK),
        (2, Verdict.REPLAY),
        (5, Verdict.OK),
        (3, Verdict.REPLAY),
    ]:
        auth = answer_challenge(
            ch.header_value(),
            method="REGISTER",
            uri="sip:x",
            username="u",
            password="p",
            nc=nc,
            cnonce=f"c{nc}",
        )
        assert server.verify(parse_credentials(auth), "REGISTER", ha1, now=1.0) is verdict


def test_stale_and_forged_nonces() -> None:
    server = make(lifetime=30)
    (ch,) = server.challenges(now=0.0)
    ha1 = compute_ha1("u", "uacsta", "p")
    auth = answer_challenge(
        ch.header_value(), method="REGISTER", uri="sip:x", username="u", password="p"
    )
    assert server.verify(parse_credentials(auth), "REGISTER", ha1, now=31.0) is Verdict.STALE
    other = DigestServer("uacsta", b"other secret", algorithms=("MD5",))
    (foreign,) = other.challenges(now=0.0)
    auth2 = answer_challenge(
        foreign.header_value(), method="REGISTER", uri="sip:x", username="u", password="p"
    )
    assert server.verify(parse_credentials(auth2), "REGISTER", ha1, now=1.0) is Verdict.BAD_NONCE
    assert "stale=TRUE" in server.challenges(now=5.0, stale=True)[0].header_value()


def test_algorithm_not_allowed() -> None:
    server = make("SHA-256")
    md5 = make("MD5")
    (ch,) = md5.challenges(now=0.0)
    auth = answer_challenge(
        ch.header_value(), method="REGISTER", uri="sip:x", username="u", password="p"
    )
    verdict = server.verify(parse_credentials(auth), "REGISTER", "0" * 32, now=1.0)
    assert verdict is Verdict.NOT_ACCEPTED


def test_parse_auth_params_quoting() -> None:
    scheme, p = parse_auth_params('Digest realm="a, b", nonce="x\\"y", algorithm=MD5')
    assert scheme == "Digest"
    assert p == {"realm": "a, b", "nonce": 'x"y', "algorithm": "MD5"}


@pytest.mark.parametrize(
    "value",
    [
        "Basic dXNlcjpwYXNz",
        'Digest username="u", realm="r"',
        'Digest username="u", realm="r", nonce="n", uri="u", response="r", qop=auth',
        'Digest username="u", realm="r", nonce="n", uri="u", response="r", algorithm=SHA-1',
        'Digest username="u", username="v"',
    ],
)
def test_bad_credentials(value: str) -> None:
    with pytest.raises(SipParseError):
        parse_credentials(value)


def test_only_what_was_offered_is_accepted() -> None:
    """MD5 offered: MD5-sess (never offered) and qop=auth-int are refused even
    with the right password; the digest uri must be the Request-URI."""
    server = make("MD5")
    (ch,) = server.challenges(now=0.0)
    ha1 = compute_ha1("u", server.realm, "p")

    def answer(challenge: str, uri: str = "sip:x") -> str:
        return answer_challenge(challenge, method="REGISTER", uri=uri, username="u", password="p")

    sess = answer(ch.header_value().replace("algorithm=MD5", "algorithm=MD5-sess"))
    assert server.verify(parse_credentials(sess), "REGISTER", ha1, now=1.0) is Verdict.NOT_ACCEPTED
    auth_int = answer(ch.header_value().replace('qop="auth"', 'qop="auth-int"'))
    assert "auth-int" in auth_int
    verdict = server.verify(parse_credentials(auth_int), "REGISTER", ha1, now=1.0)
    assert verdict is Verdict.NOT_ACCEPTED
    good = parse_credentials(answer(ch.header_value(), "sip:x;transport=tcp"))
    assert server.verify(good, "REGISTER", ha1, now=1.0, request_uri="sip:y") is Verdict.WRONG_URI
    assert server.verify(good, "REGISTER", ha1, now=1.0, request_uri="sip:x") is Verdict.OK


def test_same_uri_tolerates_only_the_transport_parameter() -> None:
    assert same_uri("sip:uacsta.test", "sip:uacsta.test")
    assert same_uri("sip:uacsta.test;transport=TCP", "sip:uacsta.test")
    assert same_uri("sip:uacsta.test", "sip:uacsta.test;transport=tls")
    assert not same_uri("sip:uacsta.test;user=phone", "sip:uacsta.test")
    assert not same_uri("sip:other.test", "sip:uacsta.test")
    # SIPp answers an INVITE to sip:uacsta@host:port with uri sip:host:port
    assert same_uri("sip:127.0.0.1:5080", "sip:uacsta@127.0.0.1:5080")
    assert not same_uri("sip:127.0.0.1:5081", "sip:uacsta@127.0.0.1:5080")
    assert not same_uri("sip:other@127.0.0.1:5080", "sip:uacsta@127.0.0.1:5080")
