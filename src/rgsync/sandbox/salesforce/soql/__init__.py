"""SOQL: a tokenizer, a recursive-descent parser and an evaluator over the emulated org.

Supported: SELECT field lists with parent relationship paths (`Account.Name`, `Owner.Email`,
`Who.Name`), child relationship subqueries (`(SELECT Id FROM TaskRelations)`), `COUNT()` and
`COUNT(field) [alias]`; FROM one object; WHERE with AND / OR / NOT and parentheses (mixing AND
and OR without parentheses is refused, as Salesforce does), = != <> < > <= >=, [NOT] IN with
literal lists or a semi-join `(SELECT Id FROM …)`, LIKE with % and _; string (with \\' \\\\ \\n
\\t \\r \\b \\f \\" \\% \\_ escapes), number, boolean, null, date and date-time literals, and
the relative date literals TODAY, YESTERDAY, TOMORROW, THIS/LAST/NEXT_WEEK, THIS/LAST/NEXT_MONTH,
THIS_YEAR, LAST_90_DAYS, NEXT_90_DAYS, LAST_N_DAYS:n, NEXT_N_DAYS:n, N_DAYS_AGO:n; ORDER BY
(several keys, ASC/DESC, NULLS FIRST/LAST), LIMIT and OFFSET (≤ 2,000).

Errors are `QueryError`s with Salesforce's codes (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE,
INVALID_QUERY_FILTER_OPERATOR, NUMBER_OUTSIDE_VALID_RANGE) and a message that shows the query
with a caret under the offending token, its row and column, and what was wrong.

The engine runs in three stages, one module each, over shared pieces:

- lexer.py      tokens (`tokenize`)
- parser.py     the recursive-descent parser (`parse`) building the tree of syntax.py
- evaluator.py  evaluation over the org (`run`): schema checks, filters, ordering, shaping
- errors.py     `QueryError` and its caret-marked messages
- dates.py      the relative date literals (TODAY, LAST_N_DAYS:n, …)
- compare.py    how SOQL compares, orders and pattern-matches values
"""

from .errors import QueryError
from .evaluator import CHILD_RELATIONSHIPS, QueryResult, run
from .parser import MAX_OFFSET, parse
from .syntax import Query

__all__ = ["CHILD_RELATIONSHIPS", "MAX_OFFSET", "Query", "QueryError", "QueryResult", "parse", "run"]
