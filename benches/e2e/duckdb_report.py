#!/usr/bin/env python3
"""The baseline for `lpmhss report`: DuckDB running lpmhss's own SQL (sql/*.sql) over the same
Parquet files, printing the official table in the same CSV shape as `lpmhss report`.

usage: duckdb_report.py --sql-dir SQL_DIR --data-dir DIR [--out FILE] [--show-sql]
       duckdb_report.py --compare LPMHSS.csv DUCKDB.csv      (row-for-row check, JSON verdict)

Only dialect differences are translated, with small regex substitutions:
  * `to_char(x, '%Y-%m')`            -> `strftime(x, '%Y-%m')`
  * `lpmhss_period(x)`               -> `strftime(x, '%Y-%m')` (lpmhss's faster to_char of a month)
  * `CAST(<date expr> AS INT)`        -> `(<date expr> - DATE '1970-01-01')` (days since epoch;
                                          DuckDB cannot cast DATE to INT; the SQL only casts
                                          dates to INT, apart from `CAST(NULL AS INT)`)
  * `CAST(<timestamp> AS BIGINT)`    -> `epoch_us(<timestamp>)` (DataFusion's integer view of a
                                          microsecond timestamp)
  * `a / (2 * total)` (integer)       -> `a // (2 * total)` (DuckDB's `/` is float division)
  * `{as_of_predicate}` -> `TRUE`, `{wait_band_prefix}` -> `` (the official, unadjusted table)
  * `lpmhss_hash64(x)`               -> `hash(x)` (any 64-bit hash will do: a hash only selects
                                          the ids rule 1 looks at exactly, see sql/suspect_ids.sql)
  * `lpmhss_in_<stage>(h)`           -> `(h IN (SELECT h FROM <stage>))` (lpmhss keeps the stage
                                          as a set behind a scalar function; `h` is a hash, such
                                          as scoped_events' event_id_hash)
The stages lpmhss materialises in memory (sql/derivation.stages, in that order; see
src/compliance/engine.rs) are materialised as TABLEs (a stage marked `view` as a VIEW) and dropped
where lpmhss drops them; the reference tables are the ones lpmhss registers.
"""
import json
import os
import re
import sys

PERIOD = re.compile(r"\blpmhss_period\(([^()]*)\)")
IN_SET = re.compile(r"\blpmhss_in_(\w+)\(([^()]*)\)")
CAST_TS_BIGINT = re.compile(r"CAST\(([\w.]*(?:_at|_time))\s+AS\s+BIGINT\)")
CAST_INT = re.compile(r"CAST\(((?:[^()]|\((?:[^()]|\([^()]*\))*\))+?) AS INT\)")


def translate(sql: str, params: dict) -> str:
    for k, v in params.items():
        sql = sql.replace("{" + k + "}", v)
    sql = re.sub(r"\bto_char\(", "strftime(", sql)
    sql = PERIOD.sub(r"strftime(\1, '%Y-%m')", sql)
    sql = IN_SET.sub(r"(\2 IN (SELECT h FROM \1))", sql)
    sql = re.sub(r"\blpmhss_hash64\(", "hash(", sql)

    def cast(m):
        inner = m.group(1).strip()
        if inner.upper() == "NULL":
            return m.group(0)
        return f"({inner} - DATE '1970-01-01')"

    sql = CAST_INT.sub(cast, sql)
    # Timestamps as integers (microseconds since the epoch, DataFusion's representation).
    sql = CAST_TS_BIGINT.sub(r"epoch_us(\1)", sql)
    # Integer division: the percentage in tenths, (2000*w + t) / (2*t).
    sql = re.sub(r"\)\s*/\s*\(2 \*", ") // (2 *", sql)
    return sql


def read_rule(sql_dir, name, params=None):
    with open(os.path.join(sql_dir, name + ".sql"), encoding="utf-8") as f:
        return translate(f.read(), params or {})


def derivation_stages(sql_dir):
    """(name, [tables dropped after it], is_view) for each stage of the derivation plan."""
    plan = os.path.join(sql_dir, "derivation.stages")
    if not os.path.exists(plan):
        return [("deduped_events", [], False), ("effective_events", ["deduped_events"], False),
                ("pathways", [], False)]
    stages = []
    with open(plan, encoding="utf-8") as f:
        for line in f:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            # `set` is how lpmhss tests a stage's hashes (DuckDB reads the table itself);
            # `view` makes a stage a view in both.
            drops = words[words.index("drop") + 1:] if "drop" in words else []
            before_drop = words[1:words.index("drop")] if "drop" in words else words[1:]
            stages.append((words[0], drops, "view" in before_drop))
    return stages


# Created as views below, not tables (DuckDB's DROP names the kind of object).
VIEWS = {"events", "scoped_events"}


def stage_statements(sql_dir, name, drops, is_view, views):
    """The statements of one stage; `views` names every view of the plan."""
    return ([f"CREATE {'VIEW' if is_view else 'TABLE'} {name} AS " + read_rule(sql_dir, name)]
            + [f"DROP {'VIEW' if t in views else 'TABLE'} {t}" for t in drops])


def fmt_tenths(t):
    return "" if t is None else f"{t // 10}.{t % 10}"


def report(sql_dir, data_dir, out, show_sql=False):
    import duckdb

    con = duckdb.connect()
    glob = os.path.join(os.path.abspath(data_dir), "events", "**", "*.parquet").replace("'", "''")
    statements = [
        f"CREATE VIEW events AS SELECT * FROM read_parquet('{glob}', hive_partitioning=true)",
        "CREATE VIEW scoped_events AS " + read_rule(sql_dir, "scoped_events", {"as_of_predicate": "TRUE"}),
    ]
    # The stages lpmhss materialises in memory, in its order (sql/derivation.stages, read by
    # src/compliance/engine.rs too), become tables and are dropped when lpmhss releases them.
    # Older layouts without the plan file had deduped_events/effective_events/pathways.
    stages = derivation_stages(sql_dir)
    views = VIEWS | {name for name, _, is_view in stages if is_view}
    statements += [s for stage in stages for s in stage_statements(sql_dir, *stage, views)]
    statements += [
        "CREATE TABLE report_lhbs AS SELECT * FROM (VALUES "
        + ", ".join(f"('{l}', {i + 1})" for i, l in enumerate(["7A1", "7A2", "7A3", "7A4", "7A5", "7A6", "7A7", "WALES"]))
        + ") t(provider_lhb, lhb_order)",
        "CREATE TABLE report_age_groups AS SELECT * FROM (VALUES ('all', 1), ('under_18', 2), ('18_plus', 3)) t(age_group, age_order)",
        "CREATE TABLE age_group_rollup AS SELECT * FROM (VALUES ('under_18', 'under_18'), ('under_18', 'all'), "
        "('18_plus', '18_plus'), ('18_plus', 'all'), ('unknown', 'all')) t(age_group, age_group_out)",
        "CREATE TABLE activity AS " + read_rule(sql_dir, "activity_range"),
        "CREATE TABLE report_months AS SELECT strftime(d, '%Y-%m') AS period FROM activity, "
        "range(strptime(first_period || '-01', '%Y-%m-%d'), strptime(last_period || '-01', '%Y-%m-%d') + INTERVAL 1 MONTH, "
        "INTERVAL 1 MONTH) r(d)",
    ]
    monthly = read_rule(sql_dir, "monthly", {"wait_band_prefix": ""})
    if show_sql:
        print(";\n\n".join(statements + [monthly]) + ";")
        return
    for s in statements:
        con.execute(s)
    rows = con.execute(monthly).fetchall()
    header = ("period,provider_lhb,age_group,referrals_received,assessments_within_28,"
              "assessments_29_to_56,assessments_over_56,assessments_total,assessments_pct_within_28,"
              "interventions_within_28,interventions_29_to_56,interventions_over_56,interventions_total,"
              "interventions_pct_within_28")
    lines = [header]
    for r in rows:
        (period, lhb, age, refs, aw, am, ao, at, ap, iw, im, io, it, ip) = r
        lines.append(",".join([period, lhb, age, str(refs), str(aw), str(am), str(ao), str(at),
                               fmt_tenths(ap), str(iw), str(im), str(io), str(it), fmt_tenths(ip)]))
    text = "\n".join(lines) + "\n"
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def compare(a_path, b_path):
    def rows(p):
        with open(p, encoding="utf-8") as f:
            return [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]

    a, b = rows(a_path), rows(b_path)
    verdict = {"lpmhss_rows": len(a) - 1, "duckdb_rows": len(b) - 1, "equal": a == b}
    if a != b:
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                verdict["first_difference"] = {"line": i + 1, "lpmhss": x, "duckdb": y}
                break
        else:
            verdict["first_difference"] = {"line": min(len(a), len(b)) + 1, "note": "row counts differ"}
        verdict["differing_lines"] = sum(1 for x, y in zip(a, b) if x != y) + abs(len(a) - len(b))
    print(json.dumps(verdict))
    return 0 if a == b else 1


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--compare"] and len(argv) == 3:
        sys.exit(compare(argv[1], argv[2]))
    opts = {"--sql-dir": None, "--data-dir": None, "--out": None}
    show_sql = False
    while argv:
        flag = argv.pop(0)
        if flag == "--show-sql":
            show_sql = True
        elif flag in opts and argv:
            opts[flag] = argv.pop(0)
        else:
            sys.exit(__doc__)
    if not opts["--sql-dir"] or not opts["--data-dir"]:
        sys.exit(__doc__)
    report(opts["--sql-dir"], opts["--data-dir"], opts["--out"], show_sql)


if __name__ == "__main__":
    main()
