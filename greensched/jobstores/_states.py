"""Pickled job states, read and written back without importing what they name.

A stored job whose function, trigger class or argument class can no longer be imported (its
module was removed, or the admin commands run where it is not on the path) cannot be restored as
a :class:`~greensched.job.Job`. Its state can still be read: the globals that cannot be imported
are replaced by stand-ins (:class:`MissingGlobal` subclasses, one per reference) that record how
the pickle used them, so that the state can be shown, have its ``next_run_time`` changed, be
exported and imported, and be written back naming the same globals: once the module is back,
the job loads as if it had been changed by the scheduler API.

.. warning:: Reading a state unpickles it (running the code it names that can be imported): open
   only stores you trust.
"""

from __future__ import annotations

import copyreg
import functools
import io
import json
import pickle
import sys
from base64 import b64decode, b64encode
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, ClassVar, cast

from greensched import _validators as validate
from greensched._serialization import (
    _CLASS_KEYS,
    _PICKLE_KEYS,
    _STATE_KEYS,
    JobEncoder,
    decode_object,
)
from greensched.job import JOB_STATE_VERSION, Job
from greensched.triggers.base import BaseTrigger
from greensched.util import InvalidReferenceError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = (
    "MissingGlobal",
    "StateDecoder",
    "UnloadableJob",
    "check_state",
    "describe_failure",
    "dump_state",
    "encode_state",
    "is_import_failure",
    "load_state",
    "missing_global",
    "read_state",
)

_APSCHEDULER = "apscheduler"


#: The modules whose globals :class:`_Unpickler` keeps once found: the standard library's
#: that every job state names (its dates, time zones, reconstructors) and greensched's own
#: (APScheduler's paths included), which a running process never loses. An application's
#: modules are looked up each time (one may be gone: its jobs are then unrestorable).
_STABLE_MODULES = frozenset(("builtins", "copyreg", "datetime", "zoneinfo", "pytz"))
_found: dict[tuple[str, str], Any] = {}


class _Unpickler(pickle.Unpickler):
    """Loads ``apscheduler.*`` classes as the greensched classes of the same path."""

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        found = _found.get(key)
        if found is not None:
            return found
        stable = module in _STABLE_MODULES
        if module == _APSCHEDULER or module.startswith(_APSCHEDULER + "."):
            module = "greensched" + module[len(_APSCHEDULER) :]
            stable = True
        elif module.startswith("greensched."):
            stable = True
        found = super().find_class(module, name)
        if stable and len(_found) < 1024:  # (a bound against pickles naming many)
            _found[key] = found
        return found


def load_state(data: bytes) -> Any:
    """Unpickle a stored job state, written by greensched or by APScheduler 3.x.

    .. warning:: Unpickling runs code named in the data: open only stores you trust.
    """
    return _Unpickler(io.BytesIO(data)).load()


# How a stand-in instance was made by the unpickler, so that it is pickled the same way
_NEW = "new"  # cls.__new__(cls, *args, **kwargs): NEWOBJ / NEWOBJ_EX (protocol 2 and newer)
_CALLED = "called"  # cls(*args): REDUCE, with the missing global as the callable
# (no mark) object.__new__(cls): copyreg._reconstructor (protocols 0 and 1)


class _MissingType(type):
    """The metaclass of the stand-ins: its own type, so that the pickler below finds them."""

    def __repr__(cls) -> str:
        return f"<{cls.__module__}:{cls.__qualname__} (cannot be imported)>"


class MissingGlobal(metaclass=_MissingType):
    """Base class of the stand-ins for the globals (classes, functions) that a stored state names
    but that cannot be imported; :func:`missing_global` makes one subclass per reference, with the
    reference as its ``__module__`` and ``__qualname__``.

    An instance is what the pickle built by calling or instantiating the missing global: it
    records the arguments, the state given to ``__setstate__`` and any items, and pickles itself
    again the same way.
    """

    __slots__ = ("_args", "_dict_items", "_how", "_kwargs", "_list_items", "_state")

    _args: tuple[Any, ...]
    _kwargs: dict[str, Any]
    _how: str
    _state: Any
    _list_items: list[Any]
    _dict_items: list[tuple[Any, Any]]

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        self = object.__new__(cls)
        self._how = _NEW
        self._args = args
        self._kwargs = kwargs
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._how = _CALLED  # the class was called (REDUCE), not only instantiated (NEWOBJ)

    def __setstate__(self, state: Any) -> None:
        self._state = state

    def append(self, item: Any) -> None:
        self.extend((item,))

    def extend(self, items: Any) -> None:
        if not hasattr(self, "_list_items"):
            self._list_items = []
        self._list_items.extend(items)

    def __setitem__(self, key: Any, value: Any) -> None:
        if not hasattr(self, "_dict_items"):
            self._dict_items = []
        self._dict_items.append((key, value))

    @classmethod
    def reference(cls) -> str:
        """Return the ``'module:qualname'`` reference of the missing global."""
        return f"{cls.__module__}:{cls.__qualname__}"

    def built_state(self) -> Any:
        """Return the state the pickle gave the instance if it was only instantiated (no
        arguments, no items), as an object is pickled by default: ``None`` otherwise."""
        if getattr(self, "_how", None) != _NEW or self._args or self._kwargs:
            return None
        if hasattr(self, "_list_items") or hasattr(self, "_dict_items"):
            return None
        return getattr(self, "_state", None)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        cls = type(self)
        how = getattr(self, "_how", None)
        function: Any
        if how == _CALLED:
            function, args = cls, self._args
        elif how == _NEW and self._kwargs and protocol < 4:
            # what the pickler writes for __newobj_ex__ before protocol 4 (it would name
            # MissingGlobal.__new__ instead of the missing class's)
            function = functools.partial(_NewOf(cls), cls, *self._args, **self._kwargs)
            args = ()
        elif how == _NEW and self._kwargs:
            function, args = copyreg.__newobj_ex__, (cls, self._args, self._kwargs)  # type: ignore[attr-defined]
        elif how == _NEW:
            function, args = copyreg.__newobj__, (cls, *self._args)  # type: ignore[attr-defined]
        else:
            function, args = copyreg._reconstructor, (cls, object, None)  # type: ignore[attr-defined]
        list_items = getattr(self, "_list_items", None)
        dict_items = getattr(self, "_dict_items", None)
        return (
            function,
            args,
            getattr(self, "_state", None),
            None if list_items is None else iter(list_items),
            None if dict_items is None else iter(dict_items),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__module__}:{type(self).__qualname__} object (cannot be imported)>"

    __str__ = __repr__


class _NewOf:
    """Pickles as ``getattr(cls, '__new__')``, as the pickler writes the ``__new__`` of a class
    that has its own."""

    __slots__ = ("cls",)

    def __init__(self, cls: type[MissingGlobal]) -> None:
        self.cls = cls

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.cls.__new__(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return getattr, (self.cls, "__new__")


def missing_global(module: str, qualname: str) -> type[MissingGlobal]:
    """Return a new stand-in class for the global ``module:qualname``."""
    namespace = {"__slots__": (), "__module__": module, "__qualname__": qualname}
    made = _MissingType(qualname.rpartition(".")[2], (MissingGlobal,), namespace)
    return cast("type[MissingGlobal]", made)


class _TolerantUnpickler(_Unpickler):
    """Replaces each global that cannot be imported by a :func:`missing_global` stand-in (one
    per reference), and records why it could not be imported.

    :param stand_ins: the stand-ins made so far, to share them with other unpicklers (their
        names are then interned, as a module's names are)
    """

    def __init__(
        self, file: io.BytesIO, stand_ins: dict[tuple[str, str], type[MissingGlobal]] | None = None
    ) -> None:
        super().__init__(file)
        self.shared = stand_ins is not None
        self.stand_ins = {} if stand_ins is None else stand_ins
        self.missing: dict[str, BaseException] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError) as exc:
            # alone, the stand-in keeps the very strings read, so that they are written back
            # once each, as the data had them (the pickler shares equal objects by identity)
            stand_in = self.stand_ins.get((module, name))
            if stand_in is None:
                if self.shared:
                    module, name = sys.intern(module), sys.intern(name)
                stand_in = self.stand_ins[module, name] = missing_global(module, name)
            self.missing.setdefault(stand_in.reference(), exc)
            return stand_in


def read_state(data: bytes) -> tuple[Any, dict[str, BaseException]]:
    """Unpickle a stored state as :func:`load_state` does, with stand-ins for the globals that
    cannot be imported.

    :return: the state, and the references of the missing globals with why each could not be
        imported
    :raises Exception: if the data is not a pickle this can read (damaged, or a missing global
        used in a way a stand-in cannot mimic)
    """
    unpickler = _TolerantUnpickler(io.BytesIO(data))
    return unpickler.load(), unpickler.missing


def _save_missing(pickler: Any, cls: type[MissingGlobal]) -> None:
    """Write a stand-in class as the global it stands for (what ``save_global`` writes, without
    looking the global up)."""
    module, qualname = cls.__module__, cls.__qualname__
    if pickler.proto >= 4:
        pickler.save(module)
        pickler.save(qualname)
        pickler.write(pickle.STACK_GLOBAL)
    elif "." in qualname:
        raise pickle.PicklingError(
            f"cannot write the nested name {cls.reference()} with pickle protocol {pickler.proto}"
        )
    else:
        encoding = "utf-8" if pickler.proto >= 3 else "ascii"
        try:
            line = module.encode(encoding) + b"\n" + qualname.encode(encoding) + b"\n"
        except UnicodeEncodeError:
            raise pickle.PicklingError(
                f"cannot write {cls.reference()} with pickle protocol {pickler.proto}"
            ) from None
        pickler.write(pickle.GLOBAL + line)
    pickler.memoize(cls)


class _TolerantPickler(pickle._Pickler):
    """The pure-Python pickler, writing stand-ins back as the globals they stand for."""

    dispatch: ClassVar[dict[type, Callable[[Any, Any], None]]] = {
        **pickle._Pickler.dispatch,
        _MissingType: _save_missing,
    }


def dump_state(state: Any, protocol: int) -> bytes:
    """Pickle a state read by :func:`read_state`: as ``pickle.dumps`` does, and with the stand-ins
    written as the globals they stand for (the same references as in the data read).

    :raises pickle.PicklingError: if the state cannot be pickled
    """
    try:
        return pickle.dumps(state, protocol)
    except pickle.PicklingError:
        pass  # a stand-in (or something that cannot be pickled at all)
    buffer = io.BytesIO()
    _TolerantPickler(buffer, protocol).dump(state)
    return buffer.getvalue()


def describe_failure(exc: BaseException) -> str:
    """Return why a stored job cannot be restored, in one line: ``No module named 'gone'``."""
    if isinstance(exc, LookupError) and not isinstance(exc, InvalidReferenceError):
        # ref_to_obj: the ImportError or AttributeError says which module or name is missing
        inner = exc.__cause__ or exc.__context__
        if isinstance(inner, (ImportError, AttributeError)):
            exc = inner
    lines = str(exc).strip().splitlines()
    message = lines[0].strip() if lines else ""
    if isinstance(exc, (ImportError, AttributeError, LookupError, ValueError, TypeError)):
        return message or type(exc).__name__
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


#: the keys of a job state (version 1; version 2 adds ``timeout``)
_STATE_KEYS_V1 = (
    "id",
    "func",
    "trigger",
    "executor",
    "args",
    "kwargs",
    "name",
    "misfire_grace_time",
    "coalesce",
    "max_instances",
    "next_run_time",
)


def check_state(state: Any) -> dict[str, Any]:
    """Check that ``state`` is a whole job state of a version this release writes (what may be
    written to a store without restoring the job), and return it as
    :meth:`~greensched.job.Job.__getstate__` makes it (its keys in that order, ``args`` a tuple,
    ``kwargs`` a dict, no other keys), so that it is stored as the job would be.

    :raises ValueError: if it is not (a ``TypeError`` if it is not a dict)
    """
    version = validate.require_state_version(Job.__new__(Job), state, JOB_STATE_VERSION)
    keys = _STATE_KEYS_V1 + (("timeout",) if version >= 2 else ())
    missing = [key for key in keys if key not in state]
    if missing:
        raise ValueError(f"a job state must have {', '.join(missing)}, got: {sorted(state)!r}")
    if not isinstance(state["id"], str):
        raise TypeError(f"a job state's id must be a string, got: {state['id']!r}")
    when = state["next_run_time"]
    if when is not None and not (isinstance(when, datetime) and when.utcoffset() is not None):
        raise ValueError(
            f"a job state's next_run_time must be an aware datetime or None, got: {when!r}"
        )
    made = {
        "version": version,
        "id": state["id"],
        "func": state["func"],
        "trigger": state["trigger"],
        "executor": state["executor"],
        "args": tuple(state["args"]),
        "kwargs": dict(state["kwargs"]),
        "name": state["name"],
        "misfire_grace_time": state["misfire_grace_time"],
        "coalesce": state["coalesce"],
        "max_instances": state["max_instances"],
        "next_run_time": when,
    }
    if version >= 2:
        made["timeout"] = state["timeout"]
    return made


class UnloadableJob:
    """A stored job that cannot be restored here (:attr:`error` says why), as far as it can be
    read.

    :var id: the job's id
    :var data: its state, as stored
    :var state: its state dict, with :class:`MissingGlobal` stand-ins for the globals that cannot
        be imported; ``None`` if the state cannot be read at all (:attr:`read_error` says why)
    :var error: why the job cannot be restored
    :var missing: the references of the globals replaced by stand-ins, with why each cannot be
        imported
    :var read_error: why :attr:`state` could not be read, if it could not
    """

    __slots__ = ("data", "error", "id", "missing", "read_error", "state")

    def __init__(
        self,
        job_id: str,
        data: bytes,
        *,
        error: BaseException,
        state: dict[str, Any] | None,
        missing: dict[str, BaseException] | None = None,
        read_error: BaseException | None = None,
    ) -> None:
        self.id = job_id
        self.data = data
        self.error = error
        self.state = state
        self.missing = {} if missing is None else missing
        self.read_error = read_error

    @classmethod
    def read(
        cls,
        job_id: str,
        data: bytes,
        error: BaseException,
        *,
        reader: Callable[[bytes], tuple[Any, dict[str, BaseException]]] = read_state,
    ) -> UnloadableJob:
        """Read what can be read of a stored job that failed to restore with ``error``.

        :param reader: reads the state with stand-ins (:func:`read_state`, or the store's
            serializer's :meth:`~greensched.jobstores._serializers.JobSerializer.read`, which
            refuses an unsigned row)
        """
        try:
            state, missing = reader(data)
            if not isinstance(state, Mapping):
                raise TypeError(f"a job state must be a dict, got: {type(state).__name__}")
        except Exception as exc:  # noqa: BLE001 (anything a damaged pickle raises)
            return cls(job_id, data, error=error, state=None, read_error=exc)
        return cls(job_id, data, error=error, state=dict(state), missing=missing)

    @property
    def reason(self) -> str:
        """Why the job cannot be restored, in one line."""
        return describe_failure(self.error)

    def get(self, key: str, default: Any = None) -> Any:
        """Return a value of the state (``default`` if it is missing or cannot be read)."""
        return default if self.state is None else self.state.get(key, default)

    def writable_state(self) -> dict[str, Any]:
        """Return a copy of the state (the same keys, in the same order: written back, it
        differs from the stored one only where it is changed), checked to be whole and of a
        version this release writes.

        :raises ValueError: if the state cannot be read, or is not one to write back
        """
        if self.state is None:
            assert self.read_error is not None
            raise ValueError(
                f"its stored state cannot be read ({describe_failure(self.read_error)})"
            )
        try:
            check_state(self.state)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"its stored state cannot be written back ({exc})") from None
        return dict(self.state)

    def __repr__(self) -> str:
        return f"<UnloadableJob (id={self.id} error={self.reason!r})>"


class _StateEncoder(JobEncoder):
    """:class:`~greensched._serialization.JobEncoder`, pickling values with stand-ins too."""

    def default(self, o: Any) -> Any:
        if isinstance(o, BaseTrigger):
            return super().default(o)
        encoded = b64encode(dump_state(o, pickle.HIGHEST_PROTOCOL)).decode("ascii")
        return {_PICKLE_KEYS[0]: encoded}


def encode_state(state: Mapping[str, Any]) -> str:
    """Return a state read with stand-ins as the JSON of an export (as ``export_jobs`` writes a
    job's state): a trigger whose class cannot be imported is written as its class reference and
    state, as the trigger itself would be.

    :raises Exception: if a value cannot be written
    """
    state = dict(state)
    trigger = state.get("trigger")
    if isinstance(trigger, MissingGlobal):
        trigger_state = trigger.built_state()
        if isinstance(trigger_state, dict):
            state["trigger"] = {_CLASS_KEYS[0]: trigger.reference(), _STATE_KEYS[0]: trigger_state}
    return json.dumps(state, cls=_StateEncoder)


class StateDecoder:
    """``object_hook`` for :func:`json.load` that undoes :func:`encode_state` (one per
    document): as :func:`~greensched._serialization.decode_object`, with stand-ins for the
    trigger classes and pickled globals that cannot be imported (one per reference in the
    document, as a pickle of the whole state has one)."""

    def __init__(self) -> None:
        self._stand_ins: dict[tuple[str, str], type[MissingGlobal]] = {}

    def __call__(self, obj: dict[str, Any]) -> Any:
        for class_key, state_key in zip(_CLASS_KEYS, _STATE_KEYS):
            if class_key in obj:
                try:
                    return decode_object(obj)
                except LookupError as exc:
                    reference = obj[class_key]
                    if isinstance(exc, InvalidReferenceError) or not isinstance(reference, str):
                        raise
                    return self._trigger(reference, obj[state_key])
        for pickle_key in _PICKLE_KEYS:
            if pickle_key in obj:
                data = b64decode(obj[pickle_key])
                return _TolerantUnpickler(io.BytesIO(data), self._stand_ins).load()
        return obj

    def _trigger(self, reference: str, state: Any) -> MissingGlobal:
        module, _, qualname = (sys.intern(part) for part in reference.partition(":"))
        cls = self._stand_ins.get((module, qualname))
        if cls is None:
            cls = self._stand_ins[module, qualname] = missing_global(module, qualname)
        trigger = cls.__new__(cls)
        if isinstance(state, dict):
            # as a __getstate__ makes it, from names in its source (interned), which the
            # pickler writes once each
            state = {sys.intern(key): value for key, value in state.items()}
        trigger.__setstate__(state)
        return trigger


def is_import_failure(exc: BaseException) -> bool:
    """Whether restoring a job failed because something it names cannot be imported (rather
    than because its state is wrong)."""
    if isinstance(exc, (InvalidReferenceError, KeyError)):
        return False  # a malformed reference, a state without a key
    return isinstance(exc, (ImportError, AttributeError, LookupError))
