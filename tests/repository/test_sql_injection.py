"""Values never reach SQL by string formatting: every f-string, `%` or `.format` whose
text is SQL, in the repository layer, interpolates only identifiers of jobop's own
schema (table, column and sequence names), never a value. Values travel as bind
parameters; the hostile-input tests of the service feed SQL-injection strings through
every field to check that end to end."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "server" / "jobop"
SQL_LAYER = ROOT / "repository"
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|ALTER|WHERE|VALUES|SET|FROM|JOIN)\b")

# (module, interpolated expression): each is a name taken from the schema's own constants.
IDENTIFIERS = {
    ("migrations.py", "table.name"),  # the tables of schema.py
    ("migrations.py", "column"),  # their id columns, listed next to them
    ("migrations.py", "sequence.name"),  # the sequences of schema.py
    ("pg_writes.py", "name"),  # the columns of _STEP_COLUMNS / _JOB_COLUMNS
    ("pg_writes.py", "kind"),  # their SQL types, from the same tuples
    ("pg_writes.py", "_STEP_SET"),
    ("pg_writes.py", "', '.join((name for name, _ in _STEP_COLUMNS))"),
    ("pg_writes.py", "', '.join((f'%(s_{name})s::{kind}' for name, kind in _STEP_COLUMNS))"),
    # _context_upsert's arguments: string constants at its two call sites.
    ("pg_writes.py", "name"),
    ("pg_writes.py", "table"),
    ("pg_writes.py", "key"),
    ("pg_writes.py", "source"),
    ("pg_writes.py", "prefix"),
    # Migration 4 adds the launch request's node columns: names and types from schema.py.
    ("migrations.py", "launch_request.name"),
    ("migrations.py", "column.name"),
    ("migrations.py", "kind"),
    # Spring's id sequences (and SQLite's sequence tables and triggers): the names of
    # sequences.py's own table of Spring's objects.
    ("sequences.py", "sequence"),
    ("sequences.py", "table"),
    ("sequences.py", "column"),
    ("sequences.py", "trigger"),
}


def _literal_text(node: ast.AST) -> str:
    parts = [
        value.value
        for value in ast.walk(node)
        if isinstance(value, ast.Constant) and isinstance(value.value, str)
    ]
    return " ".join(parts)


def _formatted_sql(tree: ast.AST) -> list[tuple[int, list[str]]]:
    """(line, interpolated expressions) of every formatting of SQL text."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and SQL_WORDS.search(_literal_text(node)):
            expressions = [
                ast.unparse(part.value)
                for part in node.values
                if isinstance(part, ast.FormattedValue)
            ]
            found.append((node.lineno, expressions))
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
            and SQL_WORDS.search(node.left.value)
        ):
            found.append((node.lineno, [ast.unparse(node.right)]))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
        ):
            target = node.func.value
            text = _literal_text(target) if isinstance(target, ast.Constant) else ""
            if isinstance(target, ast.Name) and target.id.isupper():
                text = "SQL"  # a module constant: check its arguments
            if text and (text == "SQL" or SQL_WORDS.search(text)):
                arguments = [ast.unparse(a) for a in node.args]
                arguments += [ast.unparse(k.value) for k in node.keywords]
                found.append((node.lineno, arguments))
    return found


def test_sql_text_interpolates_only_schema_identifiers() -> None:
    offenders = []
    checked = 0
    for path in sorted(SQL_LAYER.glob("*.py")):
        for line, expressions in _formatted_sql(ast.parse(path.read_text(), str(path))):
            checked += 1
            for expression in expressions:
                # String constants (pg_writes' guard fragments) are SQL of our own too.
                if re.fullmatch(r"'[^']*'|\"[^\"]*\"", expression):
                    continue
                if (path.name, expression) not in IDENTIFIERS:
                    offenders.append(f"{path.name}:{line}: {expression}")
    assert checked >= 3, "the scan found no SQL formatting at all: has the layer moved?"
    assert not offenders, "values formatted into SQL:\n" + "\n".join(offenders)


def test_sql_files_use_bind_parameters_only() -> None:
    for path in ROOT.rglob("*.sql"):
        text = path.read_text()
        assert not re.search(r"\{[^}]*\}|%s|%\(", text), f"{path}: formatting placeholder"


def test_the_scan_catches_a_value_formatted_into_sql() -> None:
    bad = ast.parse(
        'connection.execute(text(f"SELECT * FROM batch_job_execution '
        'WHERE job_execution_id = {execution_id}"))\n'
        "query = \"DELETE FROM jobop_request WHERE request_id = '%s'\" % request_id\n"
        "QUERY.format(name=job_name)\n"
    )
    assert sorted(expressions for _, expressions in _formatted_sql(bad)) == [
        ["execution_id"],
        ["job_name"],
        ["request_id"],
    ]
