"""The JSON format of ``export_jobs`` / ``import_jobs``.

Triggers are written as their class reference plus their ``__getstate__()`` dict (a combining
trigger's state holds its triggers as ``(class reference, state)`` pairs, which JSON writes as
lists, as APScheduler 3.x does); any other value JSON cannot hold (datetimes, time zones,
timedeltas) is pickled and base64-encoded. Files exported by APScheduler 3.x are read too: their
``apscheduler.*`` class references are mapped to ``greensched.*``.

.. warning:: Importing a file unpickles values from it: import only files you trust.
"""

from __future__ import annotations

import json
import pickle
from base64 import b64decode, b64encode
from typing import Any

from greensched.triggers.base import BaseTrigger
from greensched.util import obj_to_ref, ref_to_obj

_CLASS_KEYS = ("__greensched_class__", "__apscheduler_class__")
_STATE_KEYS = ("__greensched_state__", "__apscheduler_state__")
_PICKLE_KEYS = ("__greensched_pickle__", "__apscheduler_pickle__")


def _class_ref(ref: str) -> str:
    if ref.startswith("apscheduler."):
        return "greensched." + ref[len("apscheduler.") :]
    return ref


class JobEncoder(json.JSONEncoder):
    """Encode job states (see the module docstring)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, BaseTrigger):
            return {_CLASS_KEYS[0]: obj_to_ref(type(o)), _STATE_KEYS[0]: o.__getstate__()}
        return {
            _PICKLE_KEYS[0]: b64encode(pickle.dumps(o, pickle.HIGHEST_PROTOCOL)).decode("ascii")
        }


def trigger_class(ref: str, field: str) -> type[BaseTrigger]:
    """Return the trigger class that ``ref`` names; an APScheduler 3.x ``apscheduler.*``
    reference names the greensched class of the same path.

    Also used by triggers whose state holds other triggers as ``(class reference, state)``
    pairs (the combining triggers, as in APScheduler 3.x).

    :param ref: a ``'package.module:qualname'`` reference
    :param field: what ``ref`` is, for the error message
    :raises ValueError: if ``ref`` does not name a subclass of
        :class:`~greensched.triggers.base.BaseTrigger`
    """
    cls = ref_to_obj(_class_ref(ref))
    if not (isinstance(cls, type) and issubclass(cls, BaseTrigger)):
        # ValueError, as before: the reference (a string, as it should be) names a wrong object
        raise ValueError(f"{field} must name a trigger class, got: {ref!r}")  # noqa: TRY004
    return cls


def decode_object(obj: dict[str, Any]) -> Any:
    """``object_hook`` for :func:`json.load` that undoes :class:`JobEncoder`."""
    for class_key, state_key in zip(_CLASS_KEYS, _STATE_KEYS):
        if class_key in obj:
            cls = trigger_class(obj[class_key], class_key)
            instance = cls.__new__(cls)
            instance.__setstate__(obj[state_key])  # type: ignore[attr-defined]
            return instance
    for pickle_key in _PICKLE_KEYS:
        if pickle_key in obj:
            return pickle.loads(b64decode(obj[pickle_key]))
    return obj
