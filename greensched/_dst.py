"""Daylight saving arithmetic shared by every trigger: wall times in gaps and overlaps.

A wall time (naive datetime) can exist once, twice (in a fall-back overlap: the first
occurrence has ``fold=0``) or not at all (in a spring-forward gap). Every trigger resolves a
wall time that does not exist to the first instant after the gap, found here by one binary
search on whole microseconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

__all__ = ["localize", "overlap", "skip_gap", "transition"]

_UTC = timezone.utc
_ONE_MICROSECOND = timedelta(microseconds=1)


def localize(wall: datetime, zone: tzinfo) -> datetime:
    """Attach ``zone`` to the wall time ``wall`` (its own ``tzinfo`` is ignored).

    :return: ``wall`` in ``zone`` if it exists there (a wall time that occurs twice keeps its
        ``fold``: 0, the default, is the first occurrence), else (``wall`` is inside a
        spring-forward gap) the first instant after the gap
    """
    return skip_gap(wall.replace(tzinfo=zone))


def skip_gap(dt: datetime) -> datetime:
    """Return the aware ``dt`` unchanged if its wall time exists in its zone, else the first
    instant after the daylight saving gap its wall time is in.

    :raises ValueError: if ``dt`` is naive
    """
    zone = dt.tzinfo
    if type(zone) is timezone:
        return dt  # a fixed offset (UTC among them) has no gaps
    if zone is None:
        raise ValueError(f"dt must be an aware datetime, got: {dt!r}")
    before, after = _offsets(dt)
    if before >= after:  # exists once, or twice
        return dt
    # inside a gap: its two readings are instants on either side of the transition, and the
    # offset after it is the one of the second reading
    naive = dt.replace(tzinfo=None, fold=0)
    low = (naive - after).replace(tzinfo=_UTC)
    high = (naive - before).replace(tzinfo=_UTC)
    return transition(low, high, zone, after).astimezone(zone)


def overlap(wall: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """Return the wall times ``(start, end)`` of the fall-back overlap that the repeated wall
    time ``wall`` is in: the wall times from ``start`` (inclusive) to ``end`` (exclusive) occur
    twice.

    :raises ValueError: if ``wall`` does not occur twice in ``zone``
    """
    first, second = _offsets(wall.replace(tzinfo=zone))
    if first <= second:
        raise ValueError(f"wall must be a wall time that occurs twice in {zone}, got: {wall}")
    naive = wall.replace(tzinfo=None, fold=0)
    low = (naive - first).replace(tzinfo=_UTC)
    high = (naive - second).replace(tzinfo=_UTC)
    instant = transition(low, high, zone, second).replace(tzinfo=None)
    return instant + second, instant + first


def transition(low: datetime, high: datetime, zone: tzinfo, offset: timedelta) -> datetime:
    """Return the first UTC instant in ``(low, high]`` at which ``zone``'s UTC offset is
    ``offset``: a binary search on whole microseconds.

    :param low: an aware instant at which the offset is not ``offset``
    :param high: an aware instant at which it is (the zone changes offset once in between)
    """
    below, above = 0, (high - low) // _ONE_MICROSECOND
    while above - below > 1:
        middle = (below + above) // 2
        if (low + middle * _ONE_MICROSECOND).astimezone(zone).utcoffset() == offset:
            above = middle
        else:
            below = middle
    return (low + above * _ONE_MICROSECOND).astimezone(_UTC)


def _offsets(dt: datetime) -> tuple[timedelta, timedelta]:
    """Return the UTC offsets of the aware ``dt``'s wall time read with ``fold=0`` and with
    ``fold=1``: equal if it occurs once, the first larger if it occurs twice, smaller if it does
    not exist."""
    if dt.fold:
        first, second = dt.replace(fold=0).utcoffset(), dt.utcoffset()
    else:
        first, second = dt.utcoffset(), dt.replace(fold=1).utcoffset()
    if first is None or second is None:
        raise ValueError(f"zone must give a UTC offset, got: {dt.tzinfo!r}")
    return first, second
