"""`workstation registry …` and `workstation sync …` (part of the `workstation` command)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workstation.errors import UsageError

if TYPE_CHECKING:
    from workstation.config import Settings


def add_parsers(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    reg = sub.add_parser("registry", help="the central registry: serve it, manage station tokens").add_subparsers(
        dest="action", parser_class=parser_class, metavar="ACTION", required=True
    )
    serve = reg.add_parser("serve", help="run the registry's HTTP API (FastAPI on uvicorn) until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8750)
    serve.add_argument("--db", help="database URL (default: SQLite under <data dir>/registry; PostgreSQL at scale)")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes on the one port (more than 1 needs PostgreSQL)"
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log every request (off by default: a line per request costs CPU)"
    )
    station = reg.add_parser("station", help="stations (desks) allowed to sync").add_subparsers(
        dest="station_action", parser_class=parser_class, metavar="ACTION", required=True
    )
    add = station.add_parser("add", help="register a desk and print its token (shown once)")
    add.add_argument("name", help="the desk's station id (its station_id setting)")
    add.add_argument("--title", default="", help="a display name, e.g. 历下区不动产登记大厅")
    add.add_argument("--unit", help="the district office it belongs to, e.g. JN-LX (its clerks' records roll up to it)")
    from workstation.domain.channels import STATION_CHANNELS

    add.add_argument(
        "--kind",
        choices=[kind for kind in STATION_CHANNELS if kind not in ("registry", "partner")],
        help="where it stands (R8-R12; default hall): its channel, and whether signing is witnessed",
    )
    add.add_argument("--db")
    add.add_argument("--json", action="store_true")
    rev = station.add_parser("revoke", help="revoke a desk's token")
    rev.add_argument("name")
    rev.add_argument("--db")
    lst = station.add_parser("list", help="stations and whether their tokens are live")
    lst.add_argument("--db")
    lst.add_argument("--json", action="store_true")
    add_partner_parsers(reg, parser_class)
    user = reg.add_parser("user", help="the city's people: reviewers, QC inspectors, registrars (R14)").add_subparsers(
        dest="user_action", parser_class=parser_class, metavar="ACTION", required=True
    )
    uadd = user.add_parser("add", help="provision a person; the password is read from stdin or WS_NEW_PASSWORD")
    uadd.add_argument("name", help="their user name (2-32 lower-case letters, digits, '_', '.', '-')")
    uadd.add_argument("--role", action="append", required=True, help="reviewer|qc|registrar (repeatable)")
    uadd.add_argument("--online", action="store_true", help="may review digitised dossiers (网上审核, R14)")
    uadd.add_argument("--offline", action="store_true", help="may review paper dossiers (线下审核, R14)")
    uadd.add_argument("--unit", help="their district office, e.g. JN-LX")
    uadd.add_argument("--display-name", default="", help="e.g. 审核员 李强")
    ugrant = user.add_parser("grant", help="change a person's roles, review grants or unit")
    ugrant.add_argument("name")
    ugrant.add_argument("--role", action="append", help="the roles they now have (repeatable; replaces the old)")
    ugrant.add_argument("--online", action=argparse.BooleanOptionalAction, default=None, help="online review")
    ugrant.add_argument("--offline", action=argparse.BooleanOptionalAction, default=None, help="paper review")
    ugrant.add_argument("--unit")
    udis = user.add_parser("disable", help="a person leaves: logins end, their leases go back to the pool")
    udis.add_argument("name")
    ulist = user.add_parser("list", help="the people and their grants")
    for cmd in (uadd, ugrant, udis, ulist):
        cmd.add_argument("--db", help="the registry's database URL (default: the registry under the data dir)")
        cmd.add_argument("--json", action="store_true")
    con = reg.add_parser("conflicts", help="ops refused as conflicts (stale version or lease)")
    con.add_argument("--db")
    con.add_argument("--json", action="store_true")
    rau = reg.add_parser("audit", help="verify the registry's own audit chain; exit 1 on any break")
    rau.add_argument("--deep", action="store_true", help="also check every audited row against the trail")
    heads = reg.add_parser("heads", help="the desks' audit chain heads the registry witnessed or refused at sync")
    heads.add_argument("station", nargs="?", help="only this station")
    for cmd in (rau, heads):
        cmd.add_argument("--db", help="the registry's database URL (default: the registry under the data dir)")
        cmd.add_argument("--json", action="store_true")
    stats = reg.add_parser("stats", help="a month's applications per channel and business, and the trend (R18)")
    stats.add_argument("--month", required=True, help="YYYY-MM, e.g. 2026-12 (office time)")
    stats.add_argument("--months", type=int, default=6, help="months of trend, the month included (default 6)")
    stats.add_argument("--db", help="the registry's database URL (default: the registry under the data dir)")
    stats.add_argument("--json", action="store_true")
    recs = reg.add_parser("records", help="a quarter's records per person and per unit (R17), for assessment")
    recs.add_argument("--quarter", required=True, help="YYYYQn, e.g. 2026Q4 (office time)")
    recs.add_argument("--unit", help="only this unit (district office): its people and its own row")
    recs.add_argument("--csv", metavar="FILE", help="write them as CSV to FILE")
    recs.add_argument("--db", help="the registry's database URL (default: the registry under the data dir)")
    recs.add_argument("--json", action="store_true")

    syn = sub.add_parser("sync", help="push this desk's changes to the registry and pull its changes").add_subparsers(
        dest="action", parser_class=parser_class, metavar="ACTION", required=True
    )
    now = syn.add_parser("now", help="one sync pass now")
    now.add_argument("--json", action="store_true")
    st = syn.add_parser("status", help="online/offline, outbox depth, oldest pending, last success, parked ops")
    st.add_argument("--json", action="store_true")
    retry = syn.add_parser("retry", help="send a parked (quarantined) op again")
    retry.add_argument("op_id")
    retry.add_argument("--json", action="store_true")


def add_partner_parsers(reg: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """`registry partner …` (partner platforms that file online applications) and `registry prereview …` (网上预审)."""
    partner = reg.add_parser("partner", help="partner platforms filing online applications (网上申请)").add_subparsers(
        dest="partner_action", parser_class=parser_class, metavar="ACTION", required=True
    )
    padd = partner.add_parser("add", help="provision a partner and print its token (shown once)")
    padd.add_argument("id", help="its id, e.g. BANK-ICBC (its dossiers' numbers start with it)")
    padd.add_argument("--kind", required=True, help="portal|bank|notary|court")
    padd.add_argument("--title", default="", help="its name, e.g. 工商银行济南分行")
    padd.add_argument("--callback", help="a URL where each outcome is POSTed (JSON, with an event_id)")
    prev = partner.add_parser("revoke", help="revoke a partner's token")
    prev.add_argument("id")
    plist = partner.add_parser("list", help="partners and whether their tokens are live")
    pre = reg.add_parser("prereview", help="网上预审: pre-review online applications (as a registry person, --as)")
    pre_sub = pre.add_subparsers(dest="prereview_action", parser_class=parser_class, metavar="ACTION", required=True)
    wlist = pre_sub.add_parser("list", help="applications waiting, the overdue first, with what each lacks")
    accept = pre_sub.add_parser("accept", help="受理 an application: its dossier joins the review pool")
    accept.add_argument("ref", help="the dossier's number (or the application's id)")
    ret = pre_sub.add_parser("return", help="补正: return it with the checklist's missing items and these")
    ret.add_argument("ref")
    ret.add_argument("--item", action="append", default=[], help="one more thing to supplement (repeatable)")
    refuse = pre_sub.add_parser("refuse", help="不予受理, with a reason code of the notice rules")
    refuse.add_argument("ref")
    refuse.add_argument("--reason", required=True, help="e.g. not_registrable, out_of_jurisdiction")
    for cmd in (accept, ret, refuse):
        cmd.add_argument("--note", default="")
    for cmd in (padd, prev, plist, wlist, accept, ret, refuse):
        cmd.add_argument("--db", help="the registry's database URL (default: the registry under the data dir)")
        cmd.add_argument("--json", action="store_true")


def _emit(args: argparse.Namespace, data: Any, lines: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, default=str))
    else:
        for line in lines:
            print(line)


def _person_line(p: Any) -> str:
    grants = "+".join(g for g, on in (("online", p.can_review_online), ("offline", p.can_review_offline)) if on)
    state = "" if p.active else "  (已停用 disabled)"
    return f"{p.username:<16} {' '.join(p.roles):<22} {grants or '-':<15} {p.unit or '-':<10} {p.display_name}{state}"


def cmd_people(args: argparse.Namespace, settings: Settings) -> int:
    """`registry user …`: at the registry (its database), or on a desk working alone (it is its own registry)."""
    from sync.server.open import open_registry, registry_dir
    from workstation.cli import _read_new_password
    from workstation.cli_auth import open_desk, os_user, person
    from workstation.services.people import PeopleService

    here = args.db or (registry_dir(settings) / "registry.db").is_file()
    if not here and settings.registry_url:
        raise UsageError(
            f"this desk works with the registry at {settings.registry_url}: people are provisioned there "
            "(run this where the registry runs, or give its database with --db)"
        )
    if here:
        registry = open_registry(settings, args.db)
        people, close = registry.people, registry.db.dispose
    else:
        desk = open_desk(settings)
        people, close = PeopleService(desk.db, station_id=settings.station_id), desk.close
    # Where the registry runs, its operator is whoever holds its database (recorded by OS account); on a desk that
    # is its own registry, the desk's admin, proven by password like every other change.
    operator = f"registry-admin:{os_user()}"
    try:
        if args.user_action == "list":
            rows = people.list()
            _emit(args, [p.to_json() for p in rows], [_person_line(p) for p in rows] or ["还没有人员 no people yet"])
            return 0
        if not here:
            from workstation.domain.permissions import Permission, require

            admin = person(desk, settings)
            require(admin, Permission.USER_MANAGE)
            operator = admin.username
        if args.user_action == "add":
            view = people.add(
                operator,
                args.name,
                _read_new_password(),
                args.role,
                online=args.online,
                offline=args.offline,
                unit=args.unit,
                display_name=args.display_name,
            )
        elif args.user_action == "grant":
            view = people.grant(
                operator, args.name, roles=args.role, online=args.online, offline=args.offline, unit=args.unit
            )
        else:
            view = people.disable(operator, args.name)
        _emit(args, view.to_json(), [_person_line(view)])
        return 0
    finally:
        close()


def _registry_records(registry: Any) -> Any:
    from sync.server.registry import REGISTRY
    from workstation.services.records import RecordsService

    return RecordsService(registry.db, station_id=REGISTRY, recorder=registry.recorder)


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    """`registry stats`: the month's share of applications per channel and business, and the trend before it."""
    from sync.server.open import open_registry
    from workstation.domain.channel_stats import MAX_MONTHS, Month
    from workstation.services.channel_stats import channel_stats

    month = Month.parse(args.month)  # a mistake is told before any database is opened
    if not 1 <= args.months <= MAX_MONTHS:
        raise UsageError(f"--months is 1 to {MAX_MONTHS}")
    registry = open_registry(settings, args.db)
    try:
        report = channel_stats(registry.db, month, args.months)
    finally:
        registry.db.dispose()
    _emit(args, report.to_json(), stats_table(report))
    return 0


def stats_table(report: Any) -> list[str]:
    from workstation.domain.catalogue import default_catalogue
    from workstation.domain.channels import CHANNEL_LABELS

    month = report.month
    channels = [c for c, n in month.counts.items() if n or any(m.counts.get(c) for m in report.trend)]
    channels = channels or list(month.counts)
    lines = [f"{month.month} 申请 applications: {month.total}"]
    head = "  渠道 channel            件数 count   占比 share   趋势 trend " + " ".join(
        m.month[2:] for m in report.trend
    )
    lines.append(head)
    for c in channels:
        share = f"{float(month.shares[c]) * 100:5.1f}%" if month.total else "    —"
        trend = " ".join(
            f"{float(m.shares[c]) * 100:4.0f}%" if m.total and c in m.shares else "    —" for m in report.trend
        )
        label = f"{CHANNEL_LABELS.get(c, c)} {c}"
        lines.append(f"  {label:<20} {month.counts.get(c, 0):>10}   {share:>9}   {trend}")
    lines.append("  月度合计 total        " + " ".join(f"{m.total:>5}" for m in report.trend))
    if report.businesses:
        names = default_catalogue().businesses
        lines.append("  业务 business × 渠道 channel:")
        for row in report.businesses:
            name = names[row.business].name if row.business in names else row.business
            parts = ", ".join(f"{CHANNEL_LABELS.get(c, c)} {n}" for c, n in row.counts.items())
            lines.append(f"    {row.business} {name}: {row.total} ({parts})")
    return lines


def cmd_records(args: argparse.Namespace, settings: Settings) -> int:
    """`registry records`: a quarter's rows per person and per unit, as a table, JSON or a CSV file."""
    from sync.server.open import open_registry
    from sync.server.registry import REGISTRY
    from workstation.services.clocks import ClockService
    from workstation.services.people import check_unit
    from workstation.services.records_quarter import Quarter

    quarter = Quarter.parse(args.quarter)  # a mistake is told before any database is opened
    unit = check_unit(args.unit)
    registry = open_registry(settings, args.db)
    try:
        clocks = ClockService(registry.db, registry.catalogue, station_id=REGISTRY, recorder=registry.recorder)
        records = _registry_records(registry)
        rows = records.quarter(quarter, clocks, unit=unit)
        if args.csv:
            written = records.write_quarter_csv(args.csv, rows)
            _emit(args, {"file": args.csv, "rows": written}, [f"已写出 wrote {args.csv}: {written} rows"])
            return 0
        _emit(args, [r.to_json() for r in rows], records_table(quarter.label, rows))
        return 0
    finally:
        registry.db.dispose()


_TABLE = (  # header, right-aligned
    ("unit", False),
    ("person", False),
    ("taken in", True),
    ("reviewed", True),
    ("returned", True),
    ("rejected", True),
    ("registered", True),
    ("accept d", True),
    ("review d", True),
    ("register d", True),
    ("overdue", True),
    ("inspected", True),
    ("QC", True),
    ("corrections", True),
    ("evaluations", True),
)


def records_table(label: str, rows: list[Any]) -> list[str]:
    """The quarter's rows as an aligned table (ASCII, so it lines up in any terminal), one unit after another."""
    if not rows:
        return [f"{label}: 没有可报告的人员或单位 no people and no units to report"]

    def days(median: float | None, p90: float | None) -> str:
        return "-" if median is None or p90 is None else f"{median:.1f}/{p90:.1f}"

    cells = []
    for r in rows:
        cells.append(
            [
                r.unit or "(none)",
                r.username if r.scope == "person" else "= unit total",
                str(r.taken_in),
                str(r.reviewed),
                str(r.returned),
                str(r.rejected),
                str(r.registered),
                days(r.accept_days_median, r.accept_days_p90),
                days(r.review_days_median, r.review_days_p90),
                days(r.register_days_median, r.register_days_p90),
                str(r.overdue),
                f"{r.inspected_pass}/{r.inspected_minor}/{r.inspected_major}",
                f"{r.qc_pass}/{r.qc_minor}/{r.qc_major}",
                f"{r.corrections_opened}/{r.corrections_resolved}",
                str(r.evaluations) + (f" ({r.evaluation_mean:.2f})" if r.evaluation_mean is not None else ""),
            ]
        )
    widths = [max(len(head), *(len(c[i]) for c in cells)) for i, (head, _) in enumerate(_TABLE)]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if right else v.ljust(w) for v, w, (_, right) in zip(values, widths, _TABLE, strict=True)
        ).rstrip()

    lines = [
        f"{label} 考核记录 records per person and per unit (R17)",
        "accept/review/register d: working days, median/p90; inspected (as inspector), QC (of their dossiers): "
        "pass/minor/major",
        "corrections: opened against them/resolved by them; evaluations: count (mean score)",
        "",
        line([head for head, _ in _TABLE]),
    ]
    for r, row in zip(rows, cells, strict=True):
        lines.append(line(row))
        if r.scope == "unit":
            lines.append("")
    return lines[:-1] if lines[-1] == "" else lines


def cmd_registry(args: argparse.Namespace, settings: Settings) -> int:
    from sync.server.open import open_registry
    from sync.server.registry import OPERATOR
    from workstation.services.people import check_unit

    if args.action == "user":
        return cmd_people(args, settings)
    if args.action == "records":
        return cmd_records(args, settings)
    if args.action == "stats":
        return cmd_stats(args, settings)
    if args.action in ("partner", "prereview"):
        return cmd_partners(args, settings)
    registry = open_registry(settings, args.db)
    try:
        if args.action == "serve":
            from sync.server.partner import attach_partners
            from sync.server.serve import serve_forever, serve_workers

            if not 1 <= args.workers <= 64:
                raise UsageError("--workers is 1 to 64")
            where = f"http://{args.host}:{args.port} ({registry.db.dialect})"
            if args.workers > 1:
                if registry.db.dialect != "postgresql":
                    raise UsageError(
                        "several workers need PostgreSQL (--db postgresql+psycopg://…): SQLite has one writer at a time"
                    )
                registry.db.dispose()  # migrated and keyed here, once; each worker opens its own connections
                print(f"登记中心 registry on {where}, {args.workers} workers", file=sys.stderr)
                serve_workers(
                    settings,
                    args.db,
                    args.host,
                    args.port,
                    args.workers,
                    config_file=getattr(args, "config", None),
                    access_log=args.access_log,
                )
                return 0
            attach_partners(registry, settings)  # its OCR engine and pre-review deadline are the settings'
            print(f"登记中心 registry on {where}", file=sys.stderr)
            serve_forever(registry, args.host, args.port, access_log=args.access_log)
            return 0
        if args.action == "conflicts":
            rows = registry.conflicts()
            lines = [f"{_office(r['at'])}  {r['station_id']}  {r['kind']}  {r['code']}: {r['message']}" for r in rows]
            _emit(args, rows, lines or ["没有冲突 no conflicts"])
            return 0
        if args.action == "audit":
            report = registry.verify_audit(deep=args.deep)
            data = {
                "ok": report.ok,
                "events": report.events,
                "chains": report.chains,
                "problem": report.problem,
                "at_seq": report.at_seq,
            }
            if args.json:
                print(json.dumps(data, ensure_ascii=False))
            elif report.ok:
                chains = f" in {report.chains} chains (one per station)" if report.chains > 1 else ""
                print(f"登记中心审计链完整 registry audit chain intact: {report.events} events{chains}")
            else:
                print(f"workstation: 登记中心审计链断裂 registry audit chain BROKEN: {report.problem}", file=sys.stderr)
            return 0 if report.ok else 1
        if args.action == "heads":
            rows = registry.head_history(args.station)
            status = {"witnessed": "已见证 witnessed", "refused": "已拒绝 refused"}
            lines = [
                f"{_office(r['at'])}  {r['station_id']:<16} {status.get(r['status'], r['status']):<16} "
                f"event {r['seq']:<8} {r['hash'][:16]}…" + (f"  {r['message']}" if r["message"] else "")
                for r in rows
            ]
            _emit(args, rows, lines or ["尚无见证 no heads witnessed yet"])
            return 0
        if args.station_action == "add":
            from workstation.config import _STATION_ID

            if not _STATION_ID.match(args.name):
                raise UsageError("a station id is 1-32 letters, digits or '-', starting with a letter or digit")
            unit = check_unit(args.unit)  # before the token is issued: a bad code leaves nothing behind
            token = registry.add_station(args.name, args.title, kind=args.kind)
            if unit is not None:
                _registry_records(registry).set_station_unit(OPERATOR, args.name, unit)
            _emit(
                args,
                {"station": args.name, "token": token},
                [
                    f"站点 station {args.name} token (仅显示一次 shown once; set it as the desk's registry_token):",
                    token,
                ],
            )
            return 0
        if args.station_action == "revoke":
            registry.revoke_station(args.name)
            print(f"站点 station {args.name}: 令牌已吊销 token revoked")
            return 0
        rows = registry.stations()
        state = {True: "已吊销 revoked", False: "有效 live"}
        _emit(args, rows, [f"{r['id']:<16} {state[bool(r['revoked'])]:<12} {r['name']}" for r in rows])
        return 0
    finally:
        registry.db.dispose()


def cmd_partners(args: argparse.Namespace, settings: Settings) -> int:
    """`registry partner …` and `registry prereview …`, on the registry's database."""
    from sync.server.open import open_registry
    from sync.server.partner import attach_partners

    registry = open_registry(settings, args.db)
    try:
        partners = attach_partners(registry, settings, background=False)  # the serving registry delivers
        if args.action == "partner":
            return _partner_command(args, partners)
        return _prereview_command(args, settings, partners)
    finally:
        registry.db.dispose()


def _partner_command(args: argparse.Namespace, partners: Any) -> int:
    if args.partner_action == "add":
        token = partners.add_partner(args.id, args.title, args.kind, args.callback)
        _emit(
            args,
            {"partner": args.id, "token": token},
            [f"合作方 partner {args.id} token (仅显示一次 shown once; the partner sends it as a bearer token):", token],
        )
        return 0
    if args.partner_action == "revoke":
        partners.revoke_partner(args.id)
        _emit(args, {"partner": args.id, "revoked": True}, [f"合作方 partner {args.id}: 令牌已吊销 token revoked"])
        return 0
    rows = [p.to_json() for p in partners.partners()]
    state = {True: "已吊销 revoked", False: "有效 live"}
    lines = [f"{r['id']:<16} {r['kind']:<7} {state[bool(r['revoked'])]:<12} {r['name']}" for r in rows]
    _emit(args, rows, lines or ["还没有合作方 no partners yet"])
    return 0


def _prereview_command(args: argparse.Namespace, settings: Settings, partners: Any) -> int:
    """网上预审 as a registry person: `--as NAME`, the password from WS_PASSWORD or a prompt."""
    from workstation.cli import _local

    actor, logout = _registry_person(settings, partners.registry)
    try:
        if args.prereview_action == "list":
            waiting = partners.prereview_list(actor).applications
            lines = []
            for w in waiting:
                late = "逾期 OVERDUE " if w.overdue else ""
                lines.append(
                    f"{late}{w.number}  {w.partner_id} {w.reference}  {w.business_name}  "
                    f"due {_local(w.due_at)}  missing {len(w.missing)}  findings {len(w.findings)}"
                )
                lines += [f"    缺 missing: {m.text}" for m in w.missing]
                lines += [f"    {f.severity}: {f.message}" for f in w.findings]
            _emit(args, [w.model_dump(mode="json") for w in waiting], lines or ["没有待预审的申请 nothing waits"])
            return 0
        if args.prereview_action == "accept":
            out = partners.prereview_accept(actor, args.ref, args.note)
            line = f"已受理 accepted {out.number} ({out.reference})"
        elif args.prereview_action == "return":
            out = partners.prereview_return(actor, args.ref, args.item, args.note)
            line = f"已退回补正 returned {out.number} ({out.reference}) with {len(out.items)} item(s)"
        else:
            out = partners.prereview_refuse(actor, args.ref, args.reason, args.note)
            line = f"不予受理 refused {out.number} ({out.reference}): {out.reason}"
        _emit(args, out.model_dump(mode="json"), [line, *(f"  {i.text}" for i in out.items)])
        return 0
    finally:
        logout()


def _registry_person(settings: Settings, registry: Any) -> tuple[Any, Any]:
    """The registry person acting here (`--as`), proven by their password: a login at the registry itself."""
    import getpass
    import os

    from sync.server.registry import REGISTRY
    from workstation.cli_auth import NAMED, acting_name
    from workstation.errors import AuthError
    from workstation.services.people import PersonAuthError

    name = acting_name(settings, NAMED)
    password = os.environ.get("WS_PASSWORD")
    if not password and sys.stdin.isatty():
        password = getpass.getpass(f"{name} 的密码 password of {name}: ")
    if not password:
        raise UsageError(f"需要 {name} 的密码 {name}'s password is needed: set WS_PASSWORD or run on a terminal")
    try:
        login = registry.people.login(REGISTRY, name, password)
        actor = registry.people.verify(REGISTRY, login.token)
    except PersonAuthError as exc:
        raise AuthError(f"{name}: {exc}") from None
    return actor, lambda: registry.people.logout(REGISTRY, login.token)


def make_agent(settings: Settings, desk: Any) -> Any:
    from sync.client import SyncAgent

    if not settings.registry_url or settings.registry_token is None:
        raise UsageError("no registry configured: set registry_url and registry_token (see 'registry station add')")
    return SyncAgent(
        desk.db,
        desk.blobs,
        station_id=settings.station_id,
        url=settings.registry_url,
        token=settings.registry_token.get_secret_value(),
        interval=settings.sync_interval_seconds,
    )


def attach_registry(settings: Settings, desk: Any) -> None:
    """A desk with a registry: its people log in there, it reviews the registry's pool (leases with their pages), and
    its QC inspectors and registrars work the registry's checks and correction cases.

    No network is used here; the first login or claim reaches the registry."""
    if not desk.has_registry or not settings.registry_url or settings.registry_token is None:
        return
    from sync.people import RegistryPeople
    from sync.qc import DeskLogins, RegistryQc
    from sync.review import RegistryLeases

    token = settings.registry_token.get_secret_value()
    people = RegistryPeople(url=settings.registry_url, token=token)
    logins = DeskLogins(people)  # remembers who works the desk: QC lists go out under their login
    desk.users.attach_directory(logins)
    desk.review.attach_registry(RegistryLeases(desk.blobs, people, url=settings.registry_url, token=token))
    desk.qc = RegistryQc(logins, url=settings.registry_url, token=token)  # QC is the registry's (R3–R4)


PROBE_TIMEOUT_S = 2.0  # `sync status` answers in seconds even when the registry's host does not


@dataclass(frozen=True)
class Probe:
    """What asking the registry found: reachable at all, and whether it takes this desk's token."""

    reachable: bool
    accepted: bool | None  # None: not asked (unreachable) or no clear answer
    error: str | None

    @property
    def state(self) -> str:
        if not self.reachable:
            return "unreachable"
        return "online" if self.accepted else "refused"


def probe_registry(url: str, token: str, cursor: str, timeout: float = PROBE_TIMEOUT_S) -> Probe:
    """GET /v1/health, then one change past the desk's cursor with its token: what the sync agent would meet."""
    import httpx

    try:
        with httpx.Client(base_url=url, timeout=timeout, headers={"Authorization": f"Bearer {token}"}) as http:
            health = http.get("/v1/health")
            if health.status_code != 200:
                return Probe(False, None, f"/v1/health answered {health.status_code}")
            answer = http.get("/v1/changes", params={"after": cursor, "limit": 1})
    except httpx.HTTPError as exc:
        return Probe(False, None, f"{type(exc).__name__}: {exc}"[:200] if str(exc) else type(exc).__name__)
    if answer.status_code == 200:
        return Probe(True, True, None)
    try:
        body = answer.json()
        reason = f"{body.get('code')}: {body.get('message')}" if isinstance(body, dict) else str(body)
    except ValueError:
        reason = answer.text[:120]
    return Probe(True, False if answer.status_code in (401, 403) else None, f"{answer.status_code} {reason}"[:200])


def _office(iso: str | None) -> str:
    """An ISO UTC time stored as text, as a person reads it: office time (UTC+8)."""
    from datetime import datetime

    from workstation.cli import _local

    return _local(datetime.fromisoformat(iso)) if iso else "从未 never"


def _status(args: argparse.Namespace, settings: Settings, desk: Any) -> int:
    from workstation.cli import _local
    from workstation.services.syncstate import note_probe, sync_status
    from workstation.store.types import utcnow

    status = sync_status(desk.db, settings.registry_url)
    data = status.to_json()
    if settings.registry_url and settings.registry_token is not None:
        probe = probe_registry(settings.registry_url, settings.registry_token.get_secret_value(), status.cursor)
        since = note_probe(desk.db, probe.state, utcnow())
        data.update(
            online=probe.state == "online",
            reachable=probe.reachable,
            accepted=probe.accepted,
            probe_error=probe.error,
            since=since.isoformat(),
        )
        said = {
            "online": "可达 reachable",
            "refused": "可达但拒绝本机 reachable, but it refuses this desk",
            "unreachable": "不可达 unreachable",
        }[probe.state]
        head = f"登记中心 registry {settings.registry_url}: {said} 自 since {_local(since)}"
        lines = [head + (f" ({probe.error})" if probe.error else "")]
    else:
        data.update(online=False, reachable=None, accepted=None, probe_error=None, since=None)
        lines = ["本机独立工作 this desk works alone (no registry_url and registry_token configured)"]
    oldest = f", 最早 oldest {_local(status.oldest_pending)}" if status.oldest_pending else ""
    lines += [
        f"待传 outbox {status.outbox_depth} pending{oldest}",
        f"上次成功 last success {_office(status.last_success)}",
    ]
    if status.last_error:
        lines.append(f"上次错误 last error: {status.last_error}")
    lines += [f"搁置 parked op {q['seq']} {q['kind']} ({q['op_id']}): {q['reason']}" for q in status.quarantined]
    lines += [f"冲突 conflict op {c['seq']} {c['kind']}: {c['reason']}" for c in status.conflicts]
    _emit(args, data, lines)
    return 0


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    from workstation.cli_auth import open_desk

    desk = open_desk(settings)
    try:
        if args.action == "status":
            return _status(args, settings, desk)
        from sync.client import Refused, Transient, retry_quarantined

        if args.action == "retry":
            new_id = retry_quarantined(desk.db, settings.station_id, args.op_id)
            _emit(args, {"op_id": new_id}, [f"已重新入队 queued again as op {new_id}"])
            return 0
        agent = make_agent(settings, desk)
        try:
            report = agent.sync_once()
        except Transient as exc:
            print(f"workstation: error: {exc}; the outbox is kept and will be sent later", file=sys.stderr)
            return 1
        except Refused as exc:
            print(f"workstation: error: {exc}", file=sys.stderr)
            return 1
        finally:
            agent.stop()
        data = {
            "applied": report.applied,
            "conflicts": report.conflicts,
            "quarantined": report.quarantined,
            "blobs_sent": report.blobs_sent,
            "bytes_sent": report.bytes_sent,
        }
        _emit(
            args,
            data,
            [
                f"已推送 pushed {report.applied} op(s), {report.blobs_sent} page file(s); "
                f"{report.conflicts} conflict(s), {report.quarantined} parked"
            ],
        )
        return 0
    finally:
        desk.close()
