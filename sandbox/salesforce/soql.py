"""SOQL, the subset psflow sends: a tokenizer, a recursive-descent parser, a binder that checks the
query against the schema, and an evaluator over stored records.

    SELECT field, Relationship.field, (SELECT ... FROM ChildRelationship ...), ... | COUNT()
    FROM Object
    [WHERE condition]            =, !=, <>, <, <=, >, >=, [NOT] IN (...), LIKE, AND, OR, NOT, ( )
    [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n] [OFFSET n]

Behaviour follows the SOQL reference: keywords and names are case-insensitive, text comparisons
too; AND and OR cannot be mixed at one level without parentheses; date literals (TODAY,
LAST_N_DAYS:n, ...) are ranges of days; nulls sort first unless NULLS LAST; `!=` and NOT IN match
nulls. A subquery reads a parent's child records and is null when there are none; subqueries
nest, as Salesforce allows since API 58.0 (up to five levels; the schema's relationships reach
three). Errors carry the real error codes and the caret-style message Salesforce gives.
Pure: no HTTP, no storage.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.salesforce.schema import (
    ID_TYPES,
    NUMBER_TYPES,
    TEXT_TYPES,
    ChildRelationship,
    Field,
    SObject,
    child_relationship,
    normalize_id,
    sobject,
)

Json = dict[str, Any]
Fetch = Callable[[str, str], Json | None]  # (object name, record id) -> record or None
Tables = Callable[[str], Iterable[Json]]  # object name -> its records

MAX_OFFSET = 2000


class SoqlError(Exception):
    """A query Salesforce refuses; `code` is its errorCode (MALFORMED_QUERY, INVALID_FIELD, ...)."""

    def __init__(self, code: str, message: str, pos: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.pos = pos

    def render(self, soql: str) -> str:
        """The message as Salesforce words it: the query line, a caret, the row and column."""
        if self.pos is None:
            return self.message
        row = soql.count("\n", 0, self.pos) + 1
        line_start = soql.rfind("\n", 0, self.pos) + 1
        line_end = soql.find("\n", self.pos)
        line = soql[line_start : line_end if line_end >= 0 else len(soql)]
        col = self.pos - line_start + 1
        return f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{self.message}"


# --- tokens --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<op><=|>=|!=|<>|=|<|>)
    |(?P<punct>[(),:])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
# Escapes that only mean something inside a LIKE pattern; elsewhere they stand for the character.
_LIKE_ESCAPES = {"%": "%", "_": "_"}


@dataclass(frozen=True)
class Token:
    kind: str  # string, datetime, date, number, ident, op, punct, eof
    text: str
    pos: int

    def keyword(self) -> str:
        return self.text.upper() if self.kind == "ident" else ""


def tokenize(soql: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(soql):
        match = _TOKEN.match(soql, pos)
        if match is None:
            if soql[pos] == "'":
                raise SoqlError("MALFORMED_QUERY", "unterminated string literal", pos)
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{soql[pos]}'", pos)
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "<EOF>", len(soql)))
    return tokens


def _unescape(raw: str, pos: int) -> str:
    out, i = [], 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            nxt = raw[i + 1]
            if nxt not in _ESCAPES and nxt not in _LIKE_ESCAPES:
                raise SoqlError(
                    "MALFORMED_QUERY",
                    f"Invalid string literal '{raw}'. Illegal character sequence '\\{nxt}' in "
                    "string literal.",
                    pos,
                )
            out.append(_ESCAPES.get(nxt) or _LIKE_ESCAPES[nxt])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def like_regex(raw: str) -> re.Pattern[str]:
    """A LIKE pattern (its quoted text, escapes still in) as a case-insensitive regular expression:
    `%` is any run of characters, `_` one character, `\\%` and `\\_` the characters themselves."""
    out, i = [], 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append(re.escape(_ESCAPES.get(nxt) or _LIKE_ESCAPES.get(nxt) or nxt))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


# --- syntax tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    path: tuple[str, ...]  # as written: ("Account", "Name")
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Count:
    pos: int


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, boolean, null, date, datetime, date_literal
    value: Any  # str, float, bool, None, date, datetime, (name, n)
    pos: int
    raw: str = ""  # a string's quoted text with its escapes, for LIKE


@dataclass(frozen=True)
class Comparison:
    field: FieldRef
    op: str  # = != < <= > >=
    value: Literal


@dataclass(frozen=True)
class InList:
    field: FieldRef
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    field: FieldRef
    pattern: Literal


@dataclass(frozen=True)
class Not:
    condition: Condition


@dataclass(frozen=True)
class And:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    conditions: tuple[Condition, ...]


Condition = Comparison | InList | Like | Not | And | Or


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool = False
    nulls_last: bool = False


@dataclass(frozen=True)
class Subquery:
    """`(SELECT ... FROM Contacts)` in a SELECT list; its query's `sobject` is the relationship."""

    query: Query
    pos: int


@dataclass(frozen=True)
class Query:
    select: tuple[FieldRef | Count | Subquery, ...]
    sobject: str
    sobject_pos: int
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None


# Relative date literals: name -> whether it takes `:n`.
DATE_LITERALS = {
    "YESTERDAY": False,
    "TODAY": False,
    "TOMORROW": False,
    "LAST_WEEK": False,
    "THIS_WEEK": False,
    "NEXT_WEEK": False,
    "LAST_MONTH": False,
    "THIS_MONTH": False,
    "NEXT_MONTH": False,
    "LAST_90_DAYS": False,
    "NEXT_90_DAYS": False,
    "LAST_N_DAYS": True,
    "NEXT_N_DAYS": True,
    "N_DAYS_AGO": True,
}
_RESERVED = frozenset(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "OFFSET",
        "TRUE",
        "FALSE",
        "NULL",
        "GROUP",
        "HAVING",
        "WITH",
    ]
)


class _Parser:
    def __init__(self, soql: str) -> None:
        self.tokens = tokenize(soql)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def unexpected(self, tok: Token | None = None) -> SoqlError:
        tok = tok or self.tok
        text = tok.text if tok.kind == "eof" else repr(tok.text).replace('"', "'")
        return SoqlError("MALFORMED_QUERY", f"unexpected token: {text}", tok.pos)

    def accept(self, *keywords: str) -> bool:
        if self.tok.keyword() == keywords[0] and all(
            self.tokens[self.i + k].keyword() == kw for k, kw in enumerate(keywords) if k
        ):
            self.i += len(keywords)
            return True
        return False

    def expect(self, keyword: str) -> None:
        if not self.accept(keyword):
            raise self.unexpected()

    def expect_punct(self, char: str) -> None:
        if self.tok.text != char:
            raise self.unexpected()
        self.i += 1

    def query(self) -> Query:
        query = self.select_statement()
        if self.tok.kind != "eof":
            raise self.unexpected()
        return query

    # statement := SELECT items FROM object [WHERE cond] [ORDER BY ...] [LIMIT n] [OFFSET n]
    def select_statement(self) -> Query:
        self.expect("SELECT")
        select = [self.select_item()]
        while self.tok.text == ",":
            self.next()
            select.append(self.select_item())
        self.expect("FROM")
        obj = self.next()
        if obj.kind != "ident" or "." in obj.text or obj.keyword() in _RESERVED:
            raise self.unexpected(obj)
        where = self.condition() if self.accept("WHERE") else None
        order: list[OrderItem] = []
        if self.accept("ORDER", "BY"):
            order.append(self.order_item())
            while self.tok.text == ",":
                self.next()
                order.append(self.order_item())
        limit = self.integer() if self.accept("LIMIT") else None
        offset = self.integer() if self.accept("OFFSET") else None
        return Query(tuple(select), obj.text, obj.pos, where, tuple(order), limit, offset)

    def select_item(self) -> FieldRef | Count | Subquery:
        tok = self.tok
        if tok.text == "(":
            self.next()
            query = self.select_statement()
            self.expect_punct(")")
            return Subquery(query, tok.pos)
        if tok.keyword() == "COUNT" and self.tokens[self.i + 1].text == "(":
            self.i += 2
            self.expect_punct(")")
            return Count(tok.pos)
        return self.field()

    def field(self) -> FieldRef:
        tok = self.next()
        if tok.kind != "ident" or tok.keyword() in _RESERVED:
            raise self.unexpected(tok)
        return FieldRef(tuple(tok.text.split(".")), tok.pos)

    def integer(self) -> int:
        tok = self.next()
        if tok.kind != "number" or not tok.text.isdigit():
            raise self.unexpected(tok)
        return int(tok.text)

    def order_item(self) -> OrderItem:
        field = self.field()
        descending = self.accept("DESC")
        if not descending:
            self.accept("ASC")
        nulls_last = False
        if self.accept("NULLS"):
            if self.accept("LAST"):
                nulls_last = True
            else:
                self.expect("FIRST")
        return OrderItem(field, descending, nulls_last)

    # condition := term (AND term)* | term (OR term)*   -- mixing needs parentheses, as in SOQL
    def condition(self) -> Condition:
        first = self.term()
        joiner = self.tok.keyword()
        if joiner not in ("AND", "OR"):
            return first
        terms = [first]
        while self.tok.keyword() in ("AND", "OR"):
            if self.tok.keyword() != joiner:
                raise self.unexpected()
            self.next()
            terms.append(self.term())
        return And(tuple(terms)) if joiner == "AND" else Or(tuple(terms))

    def term(self) -> Condition:
        if self.accept("NOT"):
            return Not(self.term())
        if self.tok.text == "(":
            self.next()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        field = self.field()
        tok = self.tok
        if tok.kind == "op":
            self.next()
            return Comparison(field, "!=" if tok.text == "<>" else tok.text, self.value())
        if self.accept("LIKE"):
            return Like(field, self.value())
        negated = self.accept("NOT")
        if self.accept("IN"):
            self.expect_punct("(")
            values = [self.value()]
            while self.tok.text == ",":
                self.next()
                values.append(self.value())
            self.expect_punct(")")
            return InList(field, tuple(values), negated)
        raise self.unexpected()

    def value(self) -> Literal:
        tok = self.next()
        if tok.kind == "string":
            raw = tok.text[1:-1]
            return Literal("string", _unescape(raw, tok.pos), tok.pos, raw)
        if tok.kind == "number":
            return Literal("number", float(tok.text), tok.pos)
        if tok.kind == "date":
            try:
                return Literal("date", date.fromisoformat(tok.text), tok.pos)
            except ValueError as err:
                raise SoqlError("MALFORMED_QUERY", f"invalid date: {tok.text}", tok.pos) from err
        if tok.kind == "datetime":
            return Literal("datetime", parse_datetime(tok.text), tok.pos)
        word = tok.keyword()
        if word in ("TRUE", "FALSE"):
            return Literal("boolean", word == "TRUE", tok.pos)
        if word == "NULL":
            return Literal("null", None, tok.pos)
        if word in DATE_LITERALS:
            n = None
            if DATE_LITERALS[word]:
                self.expect_punct(":")
                n = self.integer()
            return Literal("date_literal", (word, n), tok.pos)
        raise self.unexpected(tok)


def parse(soql: str) -> Query:
    """The syntax tree of a query; SoqlError(MALFORMED_QUERY) when it is not SOQL we know."""
    return _Parser(soql).query()


# --- values --------------------------------------------------------------------------------------


def parse_datetime(text: str) -> datetime:
    """A Salesforce dateTime: `2026-11-26T10:00:00Z`, `...000+0000`, `...+01:00`."""
    text = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_datetime(value: datetime) -> str:
    """A dateTime as the REST API writes it: UTC, milliseconds, `+0000`."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def date_range(name: str, n: int | None, today: date) -> tuple[date, date]:
    """The days a relative date literal covers, as [start, end)."""
    day = timedelta(days=1)
    week_start = today - timedelta(days=(today.weekday() + 1) % 7)  # weeks start on Sunday (en_US)
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    last_month = (month_start - day).replace(day=1)
    n = n or 0
    ranges = {
        "YESTERDAY": (today - day, today),
        "TODAY": (today, today + day),
        "TOMORROW": (today + day, today + 2 * day),
        "LAST_WEEK": (week_start - 7 * day, week_start),
        "THIS_WEEK": (week_start, week_start + 7 * day),
        "NEXT_WEEK": (week_start + 7 * day, week_start + 14 * day),
        "LAST_MONTH": (last_month, month_start),
        "THIS_MONTH": (month_start, next_month),
        "NEXT_MONTH": (next_month, (next_month + timedelta(days=32)).replace(day=1)),
        # "starts with the current day and continues for the past n days": n + 1 days
        "LAST_90_DAYS": (today - 90 * day, today + day),
        "LAST_N_DAYS": (today - n * day, today + day),
        # "starts 00:00:00 of the next day and continues for the next n days"
        "NEXT_90_DAYS": (today + day, today + 91 * day),
        "NEXT_N_DAYS": (today + day, today + (n + 1) * day),
        "N_DAYS_AGO": (today - n * day, today - (n - 1) * day),
    }
    return ranges[name]


def comparable(field: Field, value: Any) -> Any:
    """A stored (wire-format) value in a form Python compares the way SOQL does."""
    if value is None:
        return None
    kind = field.type
    if kind == "multipicklist":
        return ";".join(sorted(v.strip().lower() for v in str(value).split(";")))
    if kind in TEXT_TYPES:
        return str(value).lower()
    if kind in ID_TYPES:
        return normalize_id(value) or value
    if kind in NUMBER_TYPES:
        return float(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "datetime":
        return parse_datetime(value)
    return value


# --- binding: the query checked against the schema -----------------------------------------------


@dataclass(frozen=True)
class Path:
    """A field reached from the queried object through zero or more lookups."""

    lookups: tuple[Field, ...]
    field: Field

    def get(self, record: Json, fetch: Fetch) -> Any:
        current: Json | None = record
        for lookup in self.lookups:
            ref = current.get(lookup.name) if current else None
            current = fetch(lookup.reference_to or "", ref) if ref else None
        return current.get(self.field.name) if current else None


_NO_COLUMN = (
    "No such column '{name}' on entity '{entity}'. If you are attempting to use a custom field, "
    "be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
    "describe call for the appropriate names."
)
_NO_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a "
    "custom relationship, be sure to append the '__r' after the custom relationship name. Please "
    "reference your WSDL or the describe call for the appropriate names."
)
_NO_CHILD_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in FROM part of query call. If you are attempting to "
    "use a custom relationship, be sure to append the '__r' after the custom relationship name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)
_NO_TYPE = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be "
    "sure to append the '__c' after the entity name. Please reference your WSDL or the describe "
    "call for the appropriate names."
)


def resolve(root: SObject, ref: FieldRef) -> Path:
    obj, lookups = root, []
    *relationships, name = ref.path
    for rel in relationships:
        lookup = obj.relationship(rel)
        target = sobject(lookup.reference_to or "") if lookup else None
        if lookup is None or target is None:
            raise SoqlError("INVALID_FIELD", _NO_RELATIONSHIP.format(name=rel), ref.pos)
        lookups.append(lookup)
        obj = target
    field = obj.field(name)
    if field is None:
        raise SoqlError("INVALID_FIELD", _NO_COLUMN.format(name=name, entity=obj.name), ref.pos)
    return Path(tuple(lookups), field)


def _type_name(field: Field) -> str:
    if field.type in TEXT_TYPES:
        return "string"
    return {"datetime": "dateTime", "currency": "double", "percent": "double"}.get(
        field.type, field.type
    )


def _check_literal(field: Field, lit: Literal, op: str) -> None:
    """Refuse a literal of the wrong type for the field, as SOQL does before running anything."""
    kind = field.type
    if lit.kind == "null":
        if op not in ("=", "!="):
            raise SoqlError("MALFORMED_QUERY", "invalid operator on null value", lit.pos)
        return
    if kind in ID_TYPES:
        if lit.kind != "string" or normalize_id(lit.value) is None:
            value = lit.value if lit.kind == "string" else lit.raw or lit.value
            raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {value}", lit.pos)
        return
    if kind == "boolean" and op not in ("=", "!="):
        raise SoqlError(
            "INVALID_QUERY_FILTER_OPERATOR", "invalid operator on boolean field", lit.pos
        )
    expected = {
        "boolean": ("boolean",),
        "date": ("date", "date_literal"),
        "datetime": ("datetime", "date_literal"),
    }.get(kind, ("number",) if kind in NUMBER_TYPES else ("string",))
    if lit.kind not in expected:
        quoted = "be enclosed in quotes" if "string" in expected else "not be enclosed in quotes"
        raise SoqlError(
            "INVALID_QUERY_FILTER_OPERATOR",
            f"value of filter criterion for field '{field.name}' must be of type "
            f"{_type_name(field)} and should {quoted}",
            lit.pos,
        )


@dataclass(frozen=True)
class Compiled:
    """A query bound to the schema, ready to run over an object's records."""

    soql: str
    query: Query
    sobject: SObject
    select: tuple[Path | Children, ...]  # empty for COUNT()
    count: bool
    paths: dict[FieldRef, Path]

    def select_records(
        self, rows: Iterable[Json], fetch: Fetch, now: datetime, include_deleted: bool = False
    ) -> list[Json]:
        """The records the query returns, filtered, ordered and sliced (LIMIT, OFFSET)."""
        where = self.query.where
        today = now.astimezone(UTC).date()
        matched = [
            row
            for row in rows
            if (include_deleted or not row.get("IsDeleted"))
            and (where is None or self._test(where, row, fetch, today))
        ]
        if self.query.order_by:
            matched.sort(key=functools.cmp_to_key(self._comparator(fetch)))
        start = self.query.offset or 0
        end = start + self.query.limit if self.query.limit is not None else None
        return matched[start:end]

    def project(
        self,
        record: Json,
        fetch: Fetch,
        version: str,
        tables: Tables,
        now: datetime,
        include_deleted: bool = False,
    ) -> Json:
        """One result record: the selected fields, lookups as nested records with attributes,
        subqueries as nested query results."""
        out = _with_attributes(self.sobject.name, record["Id"], version)
        for path in self.select:
            if isinstance(path, Children):
                out[path.relationship.name] = path.result(
                    record["Id"], fetch, version, tables, now, include_deleted
                )
                continue
            target, current = out, record
            for lookup in path.lookups:
                ref = current.get(lookup.name)
                related = fetch(lookup.reference_to or "", ref) if ref else None
                key = lookup.relationship_name or lookup.name
                if related is None:
                    target[key] = None
                    break
                nested = target.get(key)
                if nested is None:
                    nested = target[key] = _with_attributes(
                        lookup.reference_to or "", related["Id"], version
                    )
                target, current = nested, related
            else:
                target[path.field.name] = current.get(path.field.name)
        return out

    # evaluation
    def _test(self, cond: Condition, row: Json, fetch: Fetch, today: date) -> bool:
        if isinstance(cond, And):
            return all(self._test(c, row, fetch, today) for c in cond.conditions)
        if isinstance(cond, Or):
            return any(self._test(c, row, fetch, today) for c in cond.conditions)
        if isinstance(cond, Not):
            return not self._test(cond.condition, row, fetch, today)
        path = self.paths[cond.field]
        value = comparable(path.field, path.get(row, fetch))
        if isinstance(cond, Like):
            return value is not None and like_regex(cond.pattern.raw).fullmatch(value) is not None
        if isinstance(cond, InList):
            if value is None:
                return cond.negated
            found = any(_compare(value, "=", _literal(path.field, v, today)) for v in cond.values)
            return found != cond.negated
        return _compare(value, cond.op, _literal(path.field, cond.value, today))

    def _comparator(self, fetch: Fetch) -> Callable[[Json, Json], int]:
        keys = [(self.paths[item.field], item) for item in self.query.order_by]

        def compare(a: Json, b: Json) -> int:
            for path, item in keys:
                x = comparable(path.field, path.get(a, fetch))
                y = comparable(path.field, path.get(b, fetch))
                if x == y:
                    continue
                if x is None or y is None:
                    first = -1 if item.nulls_last else 1
                    return -first if x is None else first
                order = -1 if x < y else 1
                return -order if item.descending else order
            return 0

        return compare


@dataclass(frozen=True)
class Children:
    """A subquery bound to its child relationship."""

    relationship: ChildRelationship
    query: Compiled

    def result(
        self,
        parent_id: str,
        fetch: Fetch,
        version: str,
        tables: Tables,
        now: datetime,
        include_deleted: bool,
    ) -> Json | None:
        """The parent's children as a query result; null when there are none, as Salesforce
        answers, not an empty result."""
        lookup = self.relationship.field.name
        rows = self.query.select_records(
            (r for r in tables(self.query.sobject.name) if r.get(lookup) == parent_id),
            fetch,
            now,
            include_deleted,
        )
        if not rows:
            return None
        records = [
            self.query.project(r, fetch, version, tables, now, include_deleted) for r in rows
        ]
        return {"totalSize": len(records), "done": True, "records": records}


def _with_attributes(type_: str, record_id: str, version: str) -> Json:
    url = f"/services/data/v{version}/sobjects/{type_}/{record_id}"
    return {"attributes": {"type": type_, "url": url}}


def _literal(field: Field, lit: Literal, today: date) -> Any:
    """A literal in the form `comparable` gives the field's values; a date literal is a range."""
    if lit.kind == "null":
        return None
    if lit.kind == "date_literal":
        name, n = lit.value
        start, end = date_range(name, n, today)
        if field.type == "datetime":
            return (_midnight(start), _midnight(end))
        return (start, end)
    if lit.kind == "string":
        return comparable(field, lit.value)
    if lit.kind == "date" and field.type == "datetime":
        return _midnight(lit.value)
    return lit.value


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _compare(value: Any, op: str, literal: Any) -> bool:
    if literal is None or value is None:
        same = value is literal
        return same if op == "=" else (not same if op == "!=" else False)
    if isinstance(literal, tuple):  # a date literal: [start, end)
        start, end = literal
        inside = start <= value < end
        return {
            "=": inside,
            "!=": not inside,
            "<": value < start,
            "<=": value < end,
            ">": value >= end,
            ">=": value >= start,
        }[op]
    return {
        "=": value == literal,
        "!=": value != literal,
        "<": value < literal,
        "<=": value <= literal,
        ">": value > literal,
        ">=": value >= literal,
    }[op]


def _conditions(cond: Condition | None) -> Iterable[Comparison | InList | Like]:
    if cond is None:
        return
    if isinstance(cond, And | Or):
        for c in cond.conditions:
            yield from _conditions(c)
    elif isinstance(cond, Not):
        yield from _conditions(cond.condition)
    else:
        yield cond


def compile_query(soql: str) -> Compiled:
    """Parse a query and check it against the schema: the object, every field path, the type of
    every literal, COUNT() alone, OFFSET within range, and the same for each subquery."""
    query = parse(soql)
    root = sobject(query.sobject)
    if root is None:
        raise SoqlError("INVALID_TYPE", _NO_TYPE.format(name=query.sobject), query.sobject_pos)
    return _bind(soql, query, root)


def _subquery(soql: str, parent: Query, obj: SObject, sub: Subquery) -> Children:
    """A subquery checked against the relationship it names and the rules for subqueries."""
    query = sub.query
    relationship = child_relationship(obj, query.sobject)
    if relationship is None:
        raise SoqlError(
            "INVALID_TYPE", _NO_CHILD_RELATIONSHIP.format(name=query.sobject), query.sobject_pos
        )
    counts = [item for item in query.select if isinstance(item, Count)]
    if counts:
        raise SoqlError("MALFORMED_QUERY", "COUNT() is not allowed in a subquery", counts[0].pos)
    if query.offset is not None and parent.limit != 1:
        raise SoqlError(
            "MALFORMED_QUERY",
            "OFFSET is allowed in a subquery only when the outer query has LIMIT 1",
            sub.pos,
        )
    return Children(relationship, _bind(soql, query, relationship.child))


def _bind(soql: str, query: Query, obj: SObject) -> Compiled:
    """A query or subquery checked against the object it reads."""
    counts = [item for item in query.select if isinstance(item, Count)]
    if counts and len(query.select) > 1:
        raise SoqlError(
            "MALFORMED_QUERY", "COUNT() cannot be combined with other fields", counts[0].pos
        )
    paths: dict[FieldRef, Path] = {}
    select: list[Path | Children] = []
    seen: set[tuple[str, ...]] = set()
    for item in query.select:
        if isinstance(item, Subquery):
            children = _subquery(soql, query, obj, item)
            if (children.relationship.name,) in seen:
                raise SoqlError(
                    "MALFORMED_QUERY",
                    f"duplicate field selected: {children.relationship.name}",
                    item.pos,
                )
            seen.add((children.relationship.name,))
            select.append(children)
        elif isinstance(item, FieldRef):
            path = paths[item] = resolve(obj, item)
            key = (*(lookup.name for lookup in path.lookups), path.field.name)
            if key in seen:
                raise SoqlError(
                    "MALFORMED_QUERY", f"duplicate field selected: {item.text}", item.pos
                )
            seen.add(key)
            select.append(path)
    for cond in _conditions(query.where):
        path = paths[cond.field] = resolve(obj, cond.field)
        if isinstance(cond, Like):
            if path.field.type not in TEXT_TYPES:
                raise SoqlError(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    f"invalid operator on {_type_name(path.field)} field",
                    cond.field.pos,
                )
            _check_literal(path.field, cond.pattern, "=")
        elif isinstance(cond, InList):
            for value in cond.values:
                _check_literal(path.field, value, "=")
        else:
            _check_literal(path.field, cond.value, cond.op)
    for order in query.order_by:
        paths[order.field] = resolve(obj, order.field)
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise SoqlError(
            "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}", None
        )
    return Compiled(soql, query, obj, tuple(select), bool(counts), paths)


def run(
    soql: str,
    tables: Callable[[str], Sequence[Json]],
    fetch: Fetch,
    now: datetime,
    version: str = "59.0",
) -> tuple[int, list[Json]]:
    """Compile and run a query in one go (for tests and small callers): (totalSize, records)."""
    compiled = compile_query(soql)
    rows = compiled.select_records(tables(compiled.sobject.name), fetch, now)
    if compiled.count:
        return len(rows), []
    return len(rows), [compiled.project(r, fetch, version, tables, now) for r in rows]
