"""What `marketofone sql` runs: read statements by default, row changes to a lakehouse table with --write.

The statement is read by a small tokenizer (comments, string literals and `quoted` identifiers set aside)
before the engine sees it:
- one statement at a time;
- a read (SELECT, WITH, VALUES, TABLE, FROM, SHOW, DESCRIBE, EXPLAIN) that writes nothing runs as it is;
- DELETE, UPDATE, INSERT and MERGE on a registered table run only with --write (the change is a new Delta
  version of that table);
- anything else (CREATE, DROP, ALTER, SET, CACHE, ...) is refused: the lakehouse's tables are created and
  owned by the pipeline's registry (jobs/tables.py), and a table created here would land in the engine's
  warehouse, outside the lakehouse.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.tables import LAYERS, REGISTRY

READS = ("select", "with", "values", "table", "from", "show", "describe", "desc", "explain")
ROW_CHANGES = ("delete", "update", "insert", "merge")
# Words that make a statement write wherever they stand (e.g. WITH ... INSERT, FROM t INSERT ...).
WRITE_WORDS = frozenset({*ROW_CHANGES, "create", "drop", "alter", "truncate", "overwrite"})
DDL = frozenset({"create", "drop", "alter", "truncate", "replace", "rename", "msck", "repair", "refresh",
                 "restore", "optimize", "vacuum", "cache", "uncache", "clear", "analyze", "load", "comment"})


class QueryError(ValueError):
    """A statement `marketofone sql` does not run, or the engine's one-line reason it failed."""


@dataclass(frozen=True)
class Token:
    kind: str  # word, quoted (a `quoted` identifier), string, symbol
    text: str

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


@dataclass(frozen=True)
class Statement:
    verb: str  # the first keyword, lowercase (select, delete, drop, ...)
    tokens: tuple[Token, ...]
    writes: bool  # changes rows or tables
    target: str | None = None  # the table DELETE / UPDATE / INSERT / MERGE changes, as written


def tokenize(query: str) -> list[list[Token]]:
    """The statements of `query` (split on `;` outside strings and comments), each a list of tokens."""
    statements: list[list[Token]] = [[]]
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif query.startswith("--", i):
            end = query.find("\n", i)
            i = n if end < 0 else end + 1
        elif query.startswith("/*", i):
            end = query.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c in "'\"`":
            j = i + 1
            while j < n:
                if query[j] == "\\" and c != "`":
                    j += 2
                    continue
                if query[j] == c:
                    if query.startswith(c * 2, j):  # a doubled quote stands for itself
                        j += 2
                        continue
                    break
                j += 1
            text = query[i + 1:j].replace(c * 2, c)
            statements[-1].append(Token("quoted" if c == "`" else "string", text))
            i = j + 1
        elif c.isalnum() or c == "_":
            j = i
            while j < n and (query[j].isalnum() or query[j] == "_"):
                j += 1
            statements[-1].append(Token("word", query[i:j]))
            i = j
        elif c == ";":
            statements.append([])
            i += 1
        else:
            statements[-1].append(Token("symbol", c))
            i += 1
    return [s for s in statements if s]


def _name_at(tokens, i: int) -> tuple[str | None, int]:
    """A possibly dotted name starting at tokens[i] (`gold.kpi_daily`, `spark_catalog`.gold.x), and the
    index after it."""
    parts = []
    while i < len(tokens) and tokens[i].kind in ("word", "quoted"):
        parts.append(tokens[i].text)
        if i + 2 < len(tokens) and tokens[i + 1].text == "." and tokens[i + 1].kind == "symbol":
            i += 2
        else:
            i += 1
            break
    if parts and parts[0].lower() == "spark_catalog":
        parts = parts[1:]
    return (".".join(parts) if parts else None), i


def _target(verb: str, tokens) -> str | None:
    """The table a row change names: DELETE FROM t, UPDATE t, INSERT INTO|OVERWRITE [TABLE] t, MERGE INTO t."""
    i = 1
    while i < len(tokens) and tokens[i].is_word("from", "into", "overwrite", "table"):
        i += 1
    return _name_at(tokens, i)[0] if verb in ROW_CHANGES else None


def classify(query: str) -> Statement:
    statements = tokenize(query)
    if not statements:
        raise QueryError("no SQL statement given")
    if len(statements) > 1:
        raise QueryError(f"one statement at a time: the query holds {len(statements)} (separated by ';')")
    tokens = statements[0]
    words = [t for t in tokens if t.kind == "word"]
    if not words or tokens[0].kind not in ("word", "symbol") or (tokens[0].kind == "symbol"
                                                                    and tokens[0].text != "("):
        raise QueryError("the query does not start with a SQL keyword (SELECT, WITH, SHOW, DESCRIBE, ...)")
    verb = words[0].text.lower()
    if verb in ("show", "describe", "desc"):
        return Statement(verb, tuple(tokens), writes=False)
    if verb in READS:
        return Statement(verb, tuple(tokens), writes=any(w.text.lower() in WRITE_WORDS for w in words))
    return Statement(verb, tuple(tokens), writes=True, target=_target(verb, tokens))


def check(statement: Statement, write: bool) -> None:
    """Refuse what `marketofone sql` does not run (with or without --write), saying what to do instead."""
    verb = statement.verb.upper()
    if statement.verb in DDL:
        raise QueryError(
            f"{verb} statements are not run: the lakehouse's tables are created, altered and dropped by the "
            "pipeline's table registry (jobs/tables.py), not by queries. Read with SELECT; keep a result with "
            "`marketofone sql ... --json > file.json`; change rows of a table with DELETE, UPDATE, INSERT or "
            "MERGE and --write")
    if not statement.writes:
        return
    if statement.verb not in ROW_CHANGES:
        if statement.verb in READS:
            raise QueryError(
                f"this {verb} statement writes ({', '.join(sorted(_write_words(statement)))}); "
                "marketofone sql runs reads as they are, and with --write only a statement that starts with "
                "DELETE, UPDATE, INSERT or MERGE on a lakehouse table")
        raise QueryError(f"{verb} is not run: marketofone sql runs read statements (SELECT, WITH, SHOW, DESCRIBE, "
                         "EXPLAIN), and with --write DELETE, UPDATE, INSERT or MERGE on a lakehouse table")
    if not write:
        raise QueryError(
            f"marketofone sql is read-only: {verb} would change {statement.target or 'a table'}; add --write to "
            "run it (the change becomes a new Delta version of the table: `marketofone history <table>`)")


def _write_words(statement: Statement) -> set[str]:
    return {t.text.upper() for t in statement.tokens if t.kind == "word" and t.text.lower() in WRITE_WORDS}


def lakehouse_names(statement: Statement) -> list[str]:
    """Every `<layer>.<name>` the statement names (layers: bronze, silver, gold, quarantine, audit), as typed,
    in order of appearance."""
    tokens, names = statement.tokens, []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        after_dot = i > 0 and tokens[i - 1].kind == "symbol" and tokens[i - 1].text == "." \
            and not (i > 1 and tokens[i - 2].text.lower() == "spark_catalog")
        if t.kind in ("word", "quoted") and t.text.lower() in LAYERS and not after_dot and i + 2 < len(tokens) \
                and tokens[i + 1].kind == "symbol" and tokens[i + 1].text == "." \
                and tokens[i + 2].kind in ("word", "quoted"):
            name = f"{t.text}.{tokens[i + 2].text}"
            if name.lower() not in (n.lower() for n in names):
                names.append(name)
            i += 3
        else:
            i += 1
    return names


def layer_tables(layer: str, written: set[str]) -> str:
    """The registered tables of a layer, written ones first, for error messages."""
    names = sorted(n for n in REGISTRY if n.startswith(f"{layer}."))
    have = [n for n in names if n in written]
    missing = [n for n in names if n not in written]
    return (f"the {layer} tables: {', '.join(have) or 'none written yet'}"
            + (f" (registered, not written yet: {', '.join(missing)})" if missing else ""))
