"""`workstation review …`: the reviewer's actions without the terminal UI (part of the `workstation` command)."""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from workstation.errors import ConflictError, NotFound, UsageError

if TYPE_CHECKING:
    from workstation.config import Settings
    from workstation.domain.review import ReturnItem

_DECISIONS = ("approve", "return", "reject")


def add_parsers(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    review = sub.add_parser("review", help="claim, decide and register dossiers (审核, 登簿)").add_subparsers(
        dest="action", parser_class=parser_class, metavar="ACTION", required=True
    )
    nxt = review.add_parser("next", help="lease the next dossier the rules give you (R14–R16)")
    nxt.add_argument("--json", action="store_true")
    queue = review.add_parser("queue", help="your leased dossiers, with the time each lease has left")
    queue.add_argument("--fill", action="store_true", help="first claim until the desk holds its queue size")
    queue.add_argument("--json", action="store_true")
    beat = review.add_parser("heartbeat", help="renew your leases; lists the ones lost")
    beat.add_argument("--json", action="store_true")
    rel = review.add_parser("release", help="give a leased dossier back to the pool")
    rel.add_argument("number", help="受理号")
    rel.add_argument("--json", action="store_true")
    dec = review.add_parser("decide", help="approve, return for 补正 or reject (不予登记) a leased dossier")
    dec.add_argument("number", help="受理号")
    dec.add_argument("decision", choices=_DECISIONS)
    dec.add_argument(
        "--item",
        action="append",
        default=[],
        metavar="WHAT:PROBLEM[:NOTE]",
        help="a 补正 line: a material (M05, or M05/p2 for a party) or field key, and a problem code (repeatable)",
    )
    dec.add_argument("--suggested", action="store_true", help="start the 补正 list from what the desk found")
    dec.add_argument("--reason", help="不予登记 reason code (see 'review reasons')")
    dec.add_argument("--note", default="", help="the reviewer's opinion (审核意见)")
    dec.add_argument("--lease", help="lease id (default: your live lease on this dossier)")
    dec.add_argument("--fence", type=int, help="the lease's fence (with --lease)")
    dec.add_argument("--op-id", help="idempotency key: the same key returns the first result")
    dec.add_argument(
        "--override", action="store_true", help="approve past open error findings without asking (recorded)"
    )
    dec.add_argument("--json", action="store_true")
    reg = review.add_parser("register", help="登簿: record the registration (登簿人 and time); opens QC when due")
    reg.add_argument("number", help="受理号")
    reg.add_argument("--json", action="store_true")
    con = review.add_parser("conflicts", help="decisions refused because their lease had moved on")
    con.add_argument("--json", action="store_true")
    pool = review.add_parser("pool", help="dossiers waiting for review, online and paper")
    pool.add_argument("--json", action="store_true")
    rsn = review.add_parser("reasons", help="the 不予登记 reasons and 补正 problem codes")
    rsn.add_argument("--json", action="store_true")
    for name, text in (("overdue", "dossiers past their time limit (R19)"), ("due-today", "dossiers due today")):
        lim = review.add_parser(name, help=text)
        lim.add_argument("--today", help="the day to judge by, YYYY-MM-DD (default: today in the office)")
        lim.add_argument("--json", action="store_true")
    recs = review.add_parser("records", help="per-person records (R17): counts, durations, returns, QC, evaluations")
    recs.add_argument("--since", help="from this day, YYYY-MM-DD (office time)")
    recs.add_argument("--until", help="up to (not including) this day, YYYY-MM-DD")
    recs.add_argument("--csv", metavar="FILE", help="write them as CSV to FILE")
    recs.add_argument("--json", action="store_true")
    hist = review.add_parser("decisions", help="every decision received on a dossier, conflicts included")
    hist.add_argument("number", help="受理号")
    hist.add_argument("--json", action="store_true")


def add_qc_parsers(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    qc = sub.add_parser("qc", help="quality inspection after 登簿 (R3) and correction cases (R4)").add_subparsers(
        dest="action", parser_class=parser_class, metavar="ACTION", required=True
    )
    pend = qc.add_parser("list", help="inspections waiting (or --state done / all)")
    pend.add_argument("--state", choices=["pending", "done", "all"], default="pending")
    pend.add_argument("--json", action="store_true")
    rec = qc.add_parser("record", help="record an inspection's result; a major error opens a correction case")
    rec.add_argument("check", help="the inspection id (from 'qc list'), or the dossier's 受理号")
    rec.add_argument("result", choices=["pass", "minor", "major"])
    rec.add_argument("--defect", action="append", default=[], help="what is wrong (repeatable)")
    rec.add_argument("--notes", default="")
    rec.add_argument("--assign-to", help="who corrects a major error (default: the registrar, 登簿人)")
    rec.add_argument("--json", action="store_true")
    cor = qc.add_parser("corrections", help="correction cases")
    cor.add_argument("--state", choices=["open", "resolved", "all"], default="open")
    cor.add_argument("--assignee", help="only cases assigned to this user")
    cor.add_argument("--json", action="store_true")
    res = qc.add_parser("resolve", help="close a correction case with what was done")
    res.add_argument("correction", help="the case id (from 'qc corrections'), or the dossier's 受理号")
    res.add_argument("resolution", help="what was corrected and how")
    res.add_argument("--json", action="store_true")


def _check_line(c: Any) -> str:
    result = f"{c.result}" if c.result else "pending"
    return f"{c.id}  {c.number}  {c.business:<20} {c.basis:<8} {result:<8} 登簿人 registrar {c.registrar or '—'}"


def _correction_line(c: Any) -> str:
    return f"{c.id}  {c.number}  {c.state:<9} → {c.assigned_to}: {c.description}"


def cmd_qc(args: argparse.Namespace, settings: Settings) -> int:
    from workstation.cli_auth import open_desk
    from workstation.cli_sync import attach_registry
    from workstation.services.qc_desk import check_id_of, correction_id_of

    desk = open_desk(settings)
    try:
        attach_registry(settings, desk)
        svc = desk.qc
        # With a registry QC is there, and it serves a person only: even a list needs `--as` and the password.
        actor = person(desk, settings) if desk.has_registry or args.action in ("record", "resolve") else None
        if args.action == "list":
            checks = svc.checks(None if args.state == "all" else args.state)
            _emit(
                args, [c.to_json() for c in checks], [_check_line(c) for c in checks] or ["没有待质检 no inspections"]
            )
            return 0
        if args.action == "corrections":
            cases = svc.corrections(None if args.state == "all" else args.state, assigned_to_username=args.assignee)
            _emit(args, [c.to_json() for c in cases], [_correction_line(c) for c in cases] or ["没有更正案件 no cases"])
            return 0
        assert actor is not None
        if args.action == "record":
            # The registry takes a 受理号 itself; here it names the dossier's one check.
            ref = args.check if desk.has_registry else check_id_of(desk.db, args.check)
            check = svc.record(actor, ref, args.result, defects=args.defect, notes=args.notes, assign_to=args.assign_to)
            lines = [_check_line(check)]
            if check.correction_id:
                lines.append(f"已发起更正 correction case {check.correction_id} opened")
            _emit(args, check.to_json(), lines)
            return 0
        ref = args.correction if desk.has_registry else correction_id_of(desk.db, args.correction)
        case = svc.resolve_correction(actor, ref, args.resolution)
        _emit(args, case.to_json(), [_correction_line(case)])
        return 0
    finally:
        desk.close()


def _emit(args: argparse.Namespace, data: Any, lines: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, default=str))
    else:
        for line in lines:
            print(line)


def parse_item(text: str) -> ReturnItem:
    """`M05:missing`, `M05/p2:defective:复印件模糊`, `area_m2:inconsistent:…` → a ReturnItem."""
    from workstation.domain.review import ReturnItem

    parts = text.split(":", 2)
    if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
        raise UsageError(f"--item '{text[:60]}' must be WHAT:PROBLEM[:NOTE], e.g. M05:missing")
    what, problem = parts[0].strip(), parts[1].strip()
    note = parts[2].strip() if len(parts) > 2 else ""
    party = None
    if "/" in what:
        what, party = (x.strip() for x in what.split("/", 1))
    if what[:1].upper() == "M" and what[1:].isdigit():
        return ReturnItem(problem=problem, material=what.upper(), party_key=party, note=note)
    return ReturnItem(problem=problem, field=what, party_key=party, note=note)


def _lease_line(lease: Any) -> str:
    kind = "电子" if lease.digitized else "纸质"
    minutes = lease.seconds_left() / 60
    return (
        f"{lease.number}  {lease.business:<20} {lease.applicant_kind:<10} {kind}  "
        f"fence {lease.fence}  剩余 {minutes:.0f} min left  lease {lease.lease_id}"
    )


def _decision_line(view: Any) -> str:
    from workstation.cli import _local

    who = f" by {view.reviewer} at {_local(view.decided_at)}"
    if view.outcome == "conflict":
        return f"{view.number}: {view.kind} 被拒 REFUSED (conflict){who}: {view.conflict}"
    lines = [f"{view.number}: {view.kind} → {view.status_after} @ {view.stage_after}{who}"]
    if view.reason_code:
        lines.append(f"  不予登记理由 reason: {view.reason_code}")
    for n, item in enumerate(view.items, 1):
        what = " ".join(str(item.get(k)) for k in ("material", "party_key", "field") if item.get(k))
        lines.append(f"  {n}. {what} — {item.get('problem')}" + (f": {item.get('note')}" if item.get("note") else ""))
    if view.note:
        lines.append(f"  审核意见 opinion: {view.note}")
    return "\n".join(lines)


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    from workstation.cli_auth import open_desk
    from workstation.cli_sync import attach_registry

    desk = open_desk(settings)
    try:
        attach_registry(settings, desk)
        svc = desk.review
        if args.action == "reasons":
            rules = svc.rules
            reasons = {"reject": dict(rules.reject_reasons), "problems": dict(rules.problems)}
            lines = ["不予登记 reasons:"] + [f"  {k:<18} {v}" for k, v in rules.reject_reasons.items()]
            lines += ["补正 problems:"] + [f"  {k:<18} {v}" for k, v in rules.problems.items()]
            _emit(args, reasons, lines)
            return 0
        if args.action == "pool":
            counts = svc.pool_counts()
            _emit(args, counts, [f"待审 waiting: {counts['online']} 电子 online, {counts['offline']} 纸质 paper"])
            return 0
        if args.action == "conflicts":
            rows = svc.conflicts()
            _emit(args, [r.to_json() for r in rows], [_decision_line(r) for r in rows] or ["没有冲突 no conflicts"])
            return 0
        if args.action == "decisions":
            rows = svc.decisions(args.number)
            _emit(args, [r.to_json() for r in rows], [_decision_line(r) for r in rows] or ["没有审核决定 no decisions"])
            return 0
        if args.action in ("overdue", "due-today"):
            today = _day(args.today, "--today")
            entries = desk.clocks.overdue(today) if args.action == "overdue" else desk.clocks.due_today(today)
            _emit(
                args,
                [e.to_json() for e in entries],
                [
                    f"{e.number}  {e.business:<20} 到期 due {e.due}  "
                    f"已用 used {e.used}/{e.limit_days} 工作日 working days" + ("  (暂停 paused)" if e.paused else "")
                    for e in entries
                ]
                or ["没有 none"],
            )
            return 0
        if args.action == "records":
            return _records(args, desk)
        actor = person(desk, settings)
        if args.action == "next":
            lease = svc.claim_next(actor)
            if lease is None:
                _emit(args, None, ["现在没有您可审核的案卷 nothing to review for you now"])
                return 0
            _emit(args, lease.to_json(), [_lease_line(lease)])
            return 0
        if args.action == "queue":
            leases = svc.fill_queue(actor) if args.fill else svc.queue(actor)
            _emit(
                args,
                [x.to_json() for x in leases],
                [_lease_line(x) for x in leases] or ["您的队列为空 your queue is empty"],
            )
            return 0
        if args.action == "heartbeat":
            beat = svc.heartbeat(actor)
            data: dict[str, Any] = {
                "renewed": [x.to_json() for x in beat.renewed],
                "lost": [list(x) for x in beat.lost],
            }
            lines = [f"已续期 renewed {len(beat.renewed)} lease(s)"]
            lines += [f"租约失效 lost {lid}: {why}" for lid, why in beat.lost]
            _emit(args, data, lines)
            return 0
        if args.action == "release":
            lease = svc.lease_of(actor, args.number)
            if lease is None:
                raise UsageError(f"you hold no live lease on {args.number}")
            svc.release(actor, lease.lease_id)
            _emit(args, {"released": args.number}, [f"{args.number} 已退回案卷池 is back in the pool"])
            return 0
        if args.action == "register":
            done = svc.register(actor, args.number)
            _emit(args, done, [f"{done['number']}: 已登簿 registered; 质检 QC: {done['qc']}"])
            return 0
        if args.action == "decide":
            return _decide(args, desk, actor)
        raise UsageError(f"unknown action {args.action}")  # pragma: no cover - argparse restricts the choices
    finally:
        desk.close()


def person(desk: Any, settings: Settings) -> Any:
    """Who acts (`--as`), proven: a desk user or a registry person, by password (see `workstation.cli_auth`)."""
    from workstation.cli_auth import person as authenticated

    return authenticated(desk, settings)


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} '{text[:40]}' is not a date (YYYY-MM-DD)") from None


def _office_start(text: str | None, option: str) -> datetime | None:
    from workstation.services.views import OFFICE_TZ

    day = _day(text, option)
    return None if day is None else datetime.combine(day, time.min, tzinfo=OFFICE_TZ)


def _records(args: argparse.Namespace, desk: Any) -> int:
    since, until = _office_start(args.since, "--since"), _office_start(args.until, "--until")
    if args.csv:
        rows = desk.records.write_csv(args.csv, since, until)
        _emit(args, {"file": args.csv, "people": rows}, [f"已写出 wrote {args.csv}: {rows} people"])
        return 0
    people = desk.records.people(since, until)
    _emit(
        args,
        [p.to_json() for p in people],
        [
            f"{p.username:<12} 受理 accepted {p.created:>4}  通过 approved {p.approved:>4}  "
            f"补正 returned {p.returned:>3}  "
            f"不予登记 rejected {p.rejected:>3}  登簿 registered {p.registered:>4}  质检重大 QC major {p.qc_major:>2}  "
            f"评价 evaluations {p.evaluations}"
            + (f" (平均 mean {p.evaluation_mean:.2f})" if p.evaluation_mean is not None else "")
            for p in people
        ]
        or ["没有记录 no activity"],
    )
    return 0


def _decide(args: argparse.Namespace, desk: Any, actor: Any) -> int:
    from workstation.domain.review import merge_items

    svc = desk.review
    if args.lease is not None or args.fence is not None:
        if args.lease is None or args.fence is None:
            raise UsageError("--lease and --fence go together")
        lease_id, fence = args.lease, args.fence
    else:
        lease = svc.lease_of(actor, args.number)
        if lease is None:
            raise UsageError(f"you hold no live lease on {args.number}; claim it with 'review next' first")
        lease_id, fence = lease.lease_id, lease.fence
    if args.decision == "approve":
        from workstation.cli import _confirm_past_errors

        try:
            shown = desk.dossiers.show(args.number)
        except NotFound:  # not mirrored here: the decision itself says what is wrong
            shown = None
        if shown is not None:
            _confirm_past_errors(shown, "批准 approve", args.override)
    items = [parse_item(text) for text in args.item]
    if args.suggested:
        if args.decision != "return":
            raise UsageError("--suggested fills a 补正 list: use it with 'return'")
        items = list(merge_items(svc.suggest_return(args.number), items))
    try:
        view = svc.decide(
            actor,
            args.number,
            args.decision,
            lease_id=lease_id,
            fence=fence,
            items=items,
            reason_code=args.reason,
            note=args.note,
            op_id=args.op_id,
        )
    except ConflictError as exc:
        if args.json and exc.record is not None:
            print(json.dumps(exc.record.to_json(), ensure_ascii=False, default=str))  # type: ignore[attr-defined]
        raise
    lines = [_decision_line(view)] + [
        f"  - {i['material'] or i['field']}{'/' + i['party_key'] if i['party_key'] else ''}: {i['problem']}"
        f"{' ' + i['note'] if i['note'] else ''}"
        for i in view.items
    ]
    _emit(args, view.to_json(), lines)
    return 0
