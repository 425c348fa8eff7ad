"""Sign-In with Ethereum (EIP-4361) and the short-lived session tokens it issues.

Nonces are issued and consumed in the state the API's worker processes share (one use each,
expiring after ``siwe_nonce_ttl``). Session tokens are ``v1.<payload>.<HMAC>`` (HMAC-SHA256),
both parts base64url, signed with ``DEPIN_API_SESSION_SECRET``; the payload names the address,
the chain, the expiry and a random id (``jti``). Signing out records the id in the shared state
(:class:`Revocations`) until the token would have expired anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from eth_account.messages import encode_defunct
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from api.errors import (
    ApiError,
    ExpiredMessageError,
    InvalidNonceError,
    InvalidSignatureError,
    IssuedInFutureError,
    NonceUsedError,
    NotYetValidMessageError,
    SessionRevokedError,
    UnauthorizedError,
    ValidationProblem,
    WrongChainError,
    WrongDomainError,
    WrongUriError,
)
from api.shared import State, now

#: what the sign-in (``POST /v1/auth/verify``) refuses a SIWE message with
SIWE_REFUSALS: tuple[type[ApiError], ...] = (
    WrongDomainError,
    WrongUriError,
    WrongChainError,
    IssuedInFutureError,
    ExpiredMessageError,
    NotYetValidMessageError,
    InvalidNonceError,
    NonceUsedError,
    InvalidSignatureError,
)

with warnings.catch_warnings():
    # siwe's grammar redefines RFC 5234 core rules; abnf warns about it on import.
    warnings.simplefilter("ignore")
    import siwe

_SIWE_HEAD = re.compile(
    r"^[^\s]{1,255} wants you to sign in with your Ethereum account:\n0x[0-9a-fA-F]{40}\n"
)
ERC1271_MAGIC = bytes.fromhex("1626ba7e")
_IS_VALID_SIGNATURE = keccak(text="isValidSignature(bytes32,bytes)")[:4]


@dataclass(frozen=True)
class Session:
    address: str
    chain_id: int
    issued_at: int
    expires_at: int
    #: the token's random id, what signing out revokes
    jti: str = ""


class NonceStore:
    """Issued SIWE nonces: each valid for ``ttl`` seconds and for one sign-in, in the state
    every worker process of the API shares."""

    def __init__(self, state: State, ttl: int) -> None:
        self.state = state
        self.ttl = ttl
        self._issued = 0

    def issue(self) -> tuple[str, float]:
        nonce = siwe.generate_nonce()
        expires = now() + self.ttl
        with self.state.transaction() as db:
            self._issued += 1
            if self._issued % 256 == 0:  # forget expired nonces now and then
                db.execute("DELETE FROM siwe_nonces WHERE expires_at < ?", (now(),))
            db.execute(
                "INSERT INTO siwe_nonces (nonce, expires_at) VALUES (?, ?)", (nonce, expires)
            )
        return nonce, expires

    def check(self, nonce: str) -> None:
        with self.state.transaction() as db:
            self._refuse_unless_open(db, nonce)

    def consume(self, nonce: str) -> None:
        with self.state.transaction() as db:
            # One statement that marks it used only if open: of two hosts consuming it at once,
            # one wins and the other is told why it lost.
            marked = db.execute(
                "UPDATE siwe_nonces SET used = 1 WHERE nonce = ? AND used = 0 AND expires_at >= ?",
                (nonce, now()),
            )
            if marked.rowcount != 1:
                self._refuse_unless_open(db, nonce)
                raise NonceUsedError(f"nonce {nonce} was already used to sign in")

    @staticmethod
    def _refuse_unless_open(db: Any, nonce: str) -> None:
        row = db.execute(
            "SELECT used, expires_at FROM siwe_nonces WHERE nonce = ?", (nonce,)
        ).fetchone()
        if row is not None and row[0]:
            raise NonceUsedError(f"nonce {nonce} was already used to sign in")
        if row is None or row[1] < now():
            raise InvalidNonceError(
                f"nonce {nonce} was not issued by this server or has expired; "
                "get a new one from /v1/auth/nonce"
            )


class TokenSigner:
    """Signs and checks session tokens with HMAC-SHA256."""

    def __init__(self, secret: bytes, ttl: int) -> None:
        self._key = secret
        self.ttl = ttl

    def issue(self, address: str, chain_id: int) -> tuple[str, Session]:
        now = int(time.time())
        jti = secrets.token_urlsafe(16)
        session = Session(to_checksum_address(address), chain_id, now, now + self.ttl, jti)
        claims = {
            "sub": session.address,
            "chain": chain_id,
            "iat": now,
            "exp": session.expires_at,
            "jti": jti,
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"v1.{payload}.{self._mac(payload)}", session

    def verify(self, token: str) -> Session:
        try:
            version, payload, mac = token.split(".")
        except ValueError:
            raise UnauthorizedError("the session token is malformed") from None
        if version != "v1" or not hmac.compare_digest(mac, self._mac(payload)):
            raise UnauthorizedError("the session token's signature does not match")
        try:
            data: dict[str, Any] = json.loads(_unb64(payload))
            session = Session(
                str(data["sub"]),
                int(data["chain"]),
                int(data["iat"]),
                int(data["exp"]),
                str(data["jti"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UnauthorizedError("the session token's payload is malformed") from None
        if session.expires_at <= time.time():
            raise UnauthorizedError("the session token has expired; sign in again")
        return session

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


class Revocations:
    """Session tokens signed out before their expiry, in the state every worker shares; each
    is kept until it would have expired anyway."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._revoked = 0

    def revoke(self, session: Session) -> None:
        with self.state.transaction() as db:
            self._revoked += 1
            if self._revoked % 256 == 0:  # forget the ones that have expired now and then
                db.execute("DELETE FROM revoked_sessions WHERE expires_at < ?", (now(),))
            db.execute(
                "INSERT INTO revoked_sessions (jti, expires_at) VALUES (?, ?) "
                "ON CONFLICT (jti) DO NOTHING",
                (session.jti, float(session.expires_at)),
            )

    def check(self, session: Session) -> Session:
        """``session``, unless it was signed out (:class:`SessionRevokedError`)."""
        with self.state.transaction() as db:
            row = db.execute(
                "SELECT 1 FROM revoked_sessions WHERE jti = ?", (session.jti,)
            ).fetchone()
        if row is not None:
            raise SessionRevokedError("this session was signed out; sign in again")
        return session


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def is_valid_erc1271(w3: Web3, wallet: str, digest: bytes, signature: bytes) -> bool:
    """Asks the contract wallet whether ``signature`` over ``digest`` is its own (eth_call)."""
    from eth_abi import encode

    data = _IS_VALID_SIGNATURE + encode(["bytes32", "bytes"], [digest, signature])
    try:
        result = bytes(w3.eth.call({"to": to_checksum_address(wallet), "data": data}))
    except Exception:  # a revert or a contract without the method: not valid
        return False
    return len(result) >= 4 and result[:4] == ERC1271_MAGIC


class SiweVerifier:
    """Checks a SIWE message and signature for this server's origin and chain (EIP-4361).

    The message's ``domain`` must be the authority this API is reachable at and its ``URI``
    must be on the same origin (``origin`` when the public URL is configured, else ``http`` or
    ``https`` on ``domain``). ``Issued At`` may be ahead of the server's clock by at most
    ``skew_s`` seconds; ``Expiration Time`` must not have passed and ``Not Before`` must have
    come; the chain id and the (issued, unused) nonce must match.
    """

    def __init__(
        self,
        w3: Web3,
        chain_id: int,
        domain: str,
        nonces: NonceStore,
        *,
        origin: str | None = None,
        skew_s: int = 300,
    ) -> None:
        self.w3 = w3
        self.chain_id = chain_id
        self.origin = origin.rstrip("/").lower() if origin else None
        self.domain = urlsplit(self.origin).netloc if self.origin else domain
        self.nonces = nonces
        self.skew_s = skew_s

    def verify(self, text: str, signature: str) -> str:
        """Returns the signed-in address or raises the refusal's :class:`ApiError`."""
        if not _SIWE_HEAD.match(text):
            raise ValidationProblem(
                "not an EIP-4361 message: it must begin with '<domain> wants you to sign in "
                "with your Ethereum account:' and the address on the next line"
            )
        try:
            # The regular-expression parser: siwe's ABNF parser backtracks for seconds on
            # hostile input.
            message = siwe.SiweMessage.from_message(text, abnf=False)
        except Exception as exc:  # siwe raises ValueError or grammar errors
            raise ValidationProblem(f"not an EIP-4361 message: {exc}") from None
        if message.domain != self.domain:
            raise WrongDomainError(
                f"the message is for {message.domain!r}; this server is {self.domain!r}"
            )
        self._check_uri(str(message.uri))
        if int(message.chain_id) != self.chain_id:
            raise WrongChainError(
                f"the message is for chain {message.chain_id}; this server is on {self.chain_id}"
            )
        self._check_times(message)
        self.nonces.check(message.nonce)
        try:
            message.verify(signature, domain=self.domain, nonce=message.nonce)
        except siwe.ExpiredMessage:  # the clock moved past it between the checks
            raise ExpiredMessageError("the message's Expiration Time has passed") from None
        except siwe.NotYetValidMessage:
            raise NotYetValidMessageError("the message's Not Before time has not come") from None
        except siwe.InvalidSignature:
            if not self._contract_wallet_signed(message, signature):
                raise InvalidSignatureError(
                    f"the signature is not by {message.address} (EOA or ERC-1271)"
                ) from None
        except siwe.VerificationError as exc:
            raise ValidationProblem(f"the sign-in message is not valid: {exc!r}") from None
        except Exception:
            raise InvalidSignatureError("the signature is malformed") from None
        self.nonces.consume(message.nonce)
        return str(message.address)

    def _check_uri(self, uri: str) -> None:
        try:
            parts = urlsplit(uri)
            scheme, authority = parts.scheme.lower(), parts.netloc.lower()
        except ValueError:
            scheme = authority = ""
        if self.origin is not None:
            allowed = f"{scheme}://{authority}" == self.origin
            expected = self.origin
        else:
            allowed = scheme in ("http", "https") and authority == self.domain.lower()
            expected = f"http(s)://{self.domain}"
        if not allowed:
            raise WrongUriError(
                f"the message's URI {uri!r} is not on this server's origin {expected}; "
                "sign a message whose URI is a page of this server"
            )

    def _check_times(self, message: siwe.SiweMessage) -> None:
        now_dt = datetime.now(UTC)
        issued = _moment(message.issued_at)
        if issued is not None and issued > now_dt + timedelta(seconds=self.skew_s):
            raise IssuedInFutureError(
                f"the message's Issued At {message.issued_at} is more than {self.skew_s} s "
                "ahead of this server's clock; check the device's clock and sign again"
            )
        expires = _moment(message.expiration_time)
        if expires is not None and now_dt >= expires:
            raise ExpiredMessageError(
                f"the message's Expiration Time {message.expiration_time} has passed; "
                "sign a new one"
            )
        not_before = _moment(message.not_before)
        if not_before is not None and now_dt < not_before:
            raise NotYetValidMessageError(
                f"the message's Not Before time {message.not_before} has not come"
            )

    def _contract_wallet_signed(self, message: siwe.SiweMessage, signature: str) -> bool:
        if not self.w3.eth.get_code(message.address):
            return False
        signable = encode_defunct(text=message.prepare_message())
        digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
        try:
            raw = bytes.fromhex(signature.removeprefix("0x"))
        except ValueError:
            return False
        return is_valid_erc1271(self.w3, message.address, digest, raw)


def _moment(value: object) -> datetime | None:
    """A SIWE timestamp field (siwe's ``ISO8601Datetime`` or a string) as an aware datetime."""
    if value is None:
        return None
    inner = getattr(value, "_datetime", None)
    if isinstance(inner, datetime):
        return inner if inner.tzinfo else inner.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utc_iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")
