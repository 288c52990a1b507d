"""How the persistent stores turn job states into bytes and back: the ``serializer`` and
``signing_key`` options of :class:`~greensched.jobstores._shared.SharedJobStore`.

* ``'pickle'`` (the default): APScheduler 3.x's format (:mod:`greensched.jobstores._pickling`
  writes it, :func:`~greensched.jobstores._states.load_state` reads it). Reading a row
  unpickles it: whoever can write the table or keys can run code as the scheduler's user.
* ``'json'``: :mod:`greensched.jobstores._jsonstate`; nothing is ever unpickled, and a job that
  it cannot express is refused when it is stored.
* ``signing_key``: every row written is ``MARK + HMAC-SHA256(key, payload) + payload``, and a
  row is read only if its tag matches (:func:`hmac.compare_digest`, before the payload is
  looked at): a row without a valid signature, such as one written before the key was set, is
  refused (the store logs it with the job's id and keeps it; nothing of it is unpickled).
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from typing import Any

from greensched.jobstores._jsonstate import decode_job_state, encode_job_state
from greensched.jobstores._pickling import dump_job_state
from greensched.jobstores._states import dump_state, load_state, read_state

__all__ = (
    "SERIALIZERS",
    "SIGNED_MARK",
    "JobSerializer",
    "JsonSerializer",
    "PickleSerializer",
    "SignedSerializer",
    "UnsignedStateError",
    "make_serializer",
)

#: The names of the serializers, as the stores and the command line take them
SERIALIZERS = ("pickle", "json")

#: The first bytes of a signed row (no pickle nor JSON row starts with them)
SIGNED_MARK = b"greensched-hmac-sha256:"
_TAG_SIZE = hashlib.sha256().digest_size


class UnsignedStateError(ValueError):
    """A stored row that a store with a ``signing_key`` refuses: it is not signed, or its
    signature does not match (it was never unpickled)."""


class JobSerializer:
    """Turns job states (:meth:`greensched.job.Job.__getstate__`) into a store's bytes and
    back.

    :var name: ``'pickle'`` or ``'json'``
    """

    name = ""

    def dumps(self, state: dict[str, Any]) -> bytes:
        """Return a job state as stored.

        :raises ValueError: saying why the state cannot be stored (nothing is written then)
        """
        raise NotImplementedError

    def loads(self, data: bytes) -> Any:
        """Return the job state stored as ``data``.

        :raises Exception: if it cannot be read or restored (a refused row: ``ValueError``)
        """
        raise NotImplementedError

    def read(self, data: bytes) -> tuple[Any, dict[str, BaseException]]:
        """Read a stored state as :meth:`loads` does, with
        :class:`~greensched.jobstores._states.MissingGlobal` stand-ins for what cannot be
        imported (for the admin commands).

        :return: the state, and the references replaced by stand-ins with why each could not
            be imported
        """
        raise NotImplementedError

    def dumps_read(self, state: dict[str, Any]) -> bytes:
        """Return a state read by :meth:`read` (stand-ins and all) as stored, naming what the
        stand-ins stand for."""
        raise NotImplementedError


def _check_unsigned(data: bytes, name: str) -> None:
    """Refuse, before reading it, a row in another format than serializer ``name`` reads."""
    if data.startswith(SIGNED_MARK):
        raise ValueError(
            "the stored state is signed: give the store its signing_key (nothing was read)"
        )
    if name == "pickle" and data.startswith(b'{"format"'):
        raise ValueError("the stored state is JSON: open the store with serializer='json'")


class PickleSerializer(JobSerializer):
    """APScheduler 3.x's pickles (read: with ``apscheduler.*`` classes as ``greensched.*``).

    .. warning:: Reading a row unpickles it: trust the store, or give it a ``signing_key``.
    """

    name = "pickle"

    def __init__(self, protocol: int) -> None:
        self.protocol = protocol

    def dumps(self, state: dict[str, Any]) -> bytes:
        try:
            return dump_job_state(state, self.protocol)
        except Exception as exc:
            raise ValueError(
                f"its state cannot be pickled ({type(exc).__name__}: {exc}); give it picklable "
                "args and kwargs"
            ) from exc

    def loads(self, data: bytes) -> Any:
        _check_unsigned(data, self.name)
        return load_state(data)

    def read(self, data: bytes) -> tuple[Any, dict[str, BaseException]]:
        _check_unsigned(data, self.name)
        return read_state(data)

    def dumps_read(self, state: dict[str, Any]) -> bytes:
        try:
            return dump_job_state(state, self.protocol)
        except pickle.PicklingError:  # a stand-in: written by the tolerant pickler
            return dump_state(state, self.protocol)


class JsonSerializer(JobSerializer):
    """JSON rows (:mod:`greensched.jobstores._jsonstate`): nothing is unpickled."""

    name = "json"

    def dumps(self, state: dict[str, Any]) -> bytes:
        return encode_job_state(state)

    def loads(self, data: bytes) -> Any:
        _check_unsigned(data, self.name)
        return decode_job_state(data)[0]

    def read(self, data: bytes) -> tuple[Any, dict[str, BaseException]]:
        _check_unsigned(data, self.name)
        return decode_job_state(data, tolerant=True)

    def dumps_read(self, state: dict[str, Any]) -> bytes:
        return encode_job_state(state)


class SignedSerializer(JobSerializer):
    """Signs what ``inner`` writes, and reads only what carries a valid signature.

    :param inner: the serializer of the payload
    :param key: the HMAC key
    """

    def __init__(self, inner: JobSerializer, key: bytes) -> None:
        self.inner = inner
        self.name = inner.name
        self._key = key

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def _sign(self, payload: bytes) -> bytes:
        return SIGNED_MARK + self._tag(payload) + payload

    def verify(self, data: bytes) -> bytes:
        """Return the payload of a signed row.

        :raises UnsignedStateError: if the row is not signed, or not with this key
        """
        if not data.startswith(SIGNED_MARK):
            raise UnsignedStateError(
                "the stored state is not signed, and the store has a signing_key: refused, "
                "never unpickled (convert the store with 'greensched store convert' if you "
                "trust it)"
            )
        start = len(SIGNED_MARK) + _TAG_SIZE
        tag, payload = data[len(SIGNED_MARK) : start], data[start:]
        if not hmac.compare_digest(tag, self._tag(payload)):
            raise UnsignedStateError(
                "the stored state's signature does not match the store's signing_key: "
                "refused, never unpickled"
            )
        return payload

    def dumps(self, state: dict[str, Any]) -> bytes:
        return self._sign(self.inner.dumps(state))

    def loads(self, data: bytes) -> Any:
        return self.inner.loads(self.verify(data))

    def read(self, data: bytes) -> tuple[Any, dict[str, BaseException]]:
        return self.inner.read(self.verify(data))

    def dumps_read(self, state: dict[str, Any]) -> bytes:
        return self._sign(self.inner.dumps_read(state))


def signing_key_bytes(signing_key: str | bytes) -> bytes:
    """Return a ``signing_key`` option as the HMAC key (a string: its UTF-8 bytes).

    :raises TypeError: if it is not a string or bytes (the value is not shown: a secret)
    :raises ValueError: if it is empty
    """
    if isinstance(signing_key, str):
        signing_key = signing_key.encode()
    if not isinstance(signing_key, bytes):
        raise TypeError(f"signing_key must be a str or bytes, got a {type(signing_key).__name__}")
    if not signing_key:
        raise ValueError("signing_key must not be empty")
    return signing_key


def make_serializer(
    serializer: str, *, signing_key: str | bytes | None, pickle_protocol: int
) -> JobSerializer:
    """Return the serializer of a store's ``serializer`` and ``signing_key`` options.

    :raises ValueError: if ``serializer`` is not one of :data:`SERIALIZERS`, or the key is
        empty
    :raises TypeError: if the key is not a string or bytes
    """
    if serializer == "pickle":
        made: JobSerializer = PickleSerializer(pickle_protocol)
    elif serializer == "json":
        made = JsonSerializer()
    else:
        raise ValueError(f"serializer must be 'pickle' or 'json', got: {serializer!r}")
    if signing_key is None:
        return made
    return SignedSerializer(made, signing_key_bytes(signing_key))
