"""Row counts that stay cheap on large tables.

An exact ``count(*)`` reads a whole table or index: 470 ms for 5.9M playlist items on
PostgreSQL, linear in the rows, so a few times that meets the statement timeout. On
PostgreSQL a table (or the sources of a large one, smallest first) is therefore counted
exactly only while the planner's own estimate of the rows counted is below
:data:`EXACT_BELOW`; above it the estimate is returned, marked as one. The estimate is the
planner's: rows per page at the last ``ANALYZE`` times the table's pages now, so a bulk import
since then is already in it. A table never analysed has no estimate and is counted. SQLite
keeps no statistics that an import refreshes, and its ``count(*)`` walks the smallest index:
its counts are always exact (0.56 s for the whole overview at 5.9M items).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from recsys.db.models import distinct_by_index

#: Tables and sources estimated at or above this many rows are not counted.
EXACT_BELOW = 200_000


@dataclass(frozen=True)
class Count:
    """A number of rows, and whether it was counted (else it is the planner's estimate)."""

    n: int
    exact: bool = True


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def table_estimate(session: Session, table: str) -> int | None:
    """PostgreSQL's estimate of a table's rows (None: none, or not PostgreSQL)."""
    if not _postgres(session):
        return None
    row = session.execute(text(
        "SELECT reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::int"
        " FROM pg_class WHERE oid = to_regclass(:table)"), {"table": table}).first()
    if row is None or row[0] < 0 or row[1] <= 0:  # never vacuumed or analysed
        return None
    return round(row[0] / row[1] * row[2])


def where_estimate(session: Session, column: InstrumentedAttribute, value: Any) -> int | None:
    """PostgreSQL's estimate of the rows with ``column = value`` (None: not PostgreSQL)."""
    if not _postgres(session):
        return None
    table, name = column.property.parent.local_table.name, column.property.columns[0].name
    plan = session.execute(text(f'EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE "{name}" = :v'),
                           {"v": value}).scalar_one()
    return int(plan[0]["Plan"]["Plan Rows"])


def _big(estimate: int | None) -> bool:
    return estimate is not None and estimate >= EXACT_BELOW


def count_table(session: Session, entity) -> Count:
    """Rows of ``entity``'s table: counted, or estimated when that is over the limit."""
    estimate = table_estimate(session, entity.__table__.name)
    if _big(estimate):
        return Count(estimate, exact=False)
    return Count(int(session.scalar(select(func.count()).select_from(entity)) or 0))


def count_per_value(session: Session, column: InstrumentedAttribute) -> dict[Any, Count]:
    """Rows per value of ``column`` (``source``, which leads an index): one ``GROUP BY`` of
    the table while it is small; on a large PostgreSQL table the values come from a loose
    index scan, and the smallest values' rows are counted (index ranges) while their
    estimates add up to less than the limit, the others' estimated: many sources just under
    the limit must not add up to a count of the whole table."""
    entity = column.property.parent.class_
    if not _big(table_estimate(session, entity.__table__.name)):
        return {value: Count(int(n)) for value, n in
                session.execute(select(column, func.count()).group_by(column))}
    values = session.scalars(
        distinct_by_index(column, f"{entity.__table__.name}_{column.key}s")).all()
    estimates = {value: where_estimate(session, column, value) or 0 for value in values}
    out: dict[Any, Count] = {}
    counted = 0  # rows counted so far (estimated): all of them stay below the limit
    for value in sorted(estimates, key=lambda v: (estimates[v], v)):  # the smallest first
        estimate = estimates[value]
        if _big(counted + estimate):
            out[value] = Count(estimate, exact=False)
        else:
            counted += estimate
            out[value] = Count(int(session.scalar(
                select(func.count()).select_from(entity).where(column == value)) or 0))
    return out
