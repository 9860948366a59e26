"""Commands of stages 3 and 4: the register, certificates, written notices, fees and delivery."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workstation.cli_review import _emit

if TYPE_CHECKING:
    from workstation.config import Settings

NOTICE_KINDS = ("receipt", "supplement", "refuse-intake", "refuse-registration")


def add_parsers(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    register = sub.add_parser("register", help="the register (登记簿): entries of a unit, restrictions").add_subparsers(
        dest="action", parser_class=parser_class, metavar="ACTION", required=True
    )
    show = register.add_parser("show", help="the register entries of a unit (不动产单元号), current and closed")
    show.add_argument("unit", metavar="UNIT_NUMBER")
    show.add_argument("--json", action="store_true")
    restrict = register.add_parser("restrict", help="enter a restriction by order: 查封, 异议, 预告")
    restrict.add_argument("unit", metavar="UNIT_NUMBER")
    restrict.add_argument("--kind", required=True, choices=["seizure", "objection", "advance"])
    restrict.add_argument("--basis", required=True, help="the order it is entered on, e.g. the court's 文书号")
    restrict.add_argument("--holder", default="", help="who asked for it (the court, the objector, the buyer)")
    restrict.add_argument("--json", action="store_true")
    lift = register.add_parser("lift", help="lift a restriction (解封, 异议/预告注销) by its entry id")
    lift.add_argument("entry")
    lift.add_argument("--basis", required=True)
    lift.add_argument("--json", action="store_true")

    cert = sub.add_parser("certificate", help="a certificate or proof as PDF (缮证, 电子证照), or verify one")
    cert.add_argument("number", help="the certificate's number, or 'verify'")
    cert.add_argument("file", nargs="?", help="with verify: the PDF to check")
    cert.add_argument("--pdf", metavar="OUT", help="write the certificate here")
    cert.add_argument("--electronic", action="store_true", help="the signed electronic certificate (R5)")
    cert.add_argument("--json", action="store_true")

    notice = sub.add_parser("notice", help="a written notice of a dossier as PDF")
    notice.add_argument("number", help="受理号")
    notice.add_argument("--kind", required=True, choices=NOTICE_KINDS)
    notice.add_argument("--pdf", required=True, metavar="OUT")

    fee = sub.add_parser("fee", help="fees (R6): what is due, exemptions, payment, 票据").add_subparsers(
        dest="action", parser_class=parser_class, metavar="ACTION", required=True
    )
    due = fee.add_parser("show", help="the amount due and whether it is paid")
    due.add_argument("number")
    due.add_argument("--json", action="store_true")
    exempt = fee.add_parser("exempt", help="the exemptions the applicant proved (e.g. small_micro 小微企业)")
    exempt.add_argument("number")
    exempt.add_argument("exemption", nargs="*")
    exempt.add_argument("--json", action="store_true")
    pay = fee.add_parser("pay", help="record a payment: exactly what is due")
    pay.add_argument("number")
    pay.add_argument("--method", required=True, choices=["qr", "online", "cash"])
    pay.add_argument("--amount", required=True, help="yuan, e.g. 80.00")
    pay.add_argument("--reference", required=True, help="the transaction reference, or the cash receipt number")
    pay.add_argument("--json", action="store_true")
    bill = fee.add_parser("receipt", help="print the 票据 of a payment as PDF")
    bill.add_argument("number")
    bill.add_argument("--pdf", required=True, metavar="OUT")

    delivery = sub.add_parser("delivery", help="how the certificate reaches the applicant (R10–R11)").add_subparsers(
        dest="action", parser_class=parser_class, metavar="ACTION", required=True
    )
    d_show = delivery.add_parser("show")
    d_show.add_argument("number")
    d_show.add_argument("--json", action="store_true")
    choose = delivery.add_parser("choose", help="window, community point or free EMS")
    choose.add_argument("number")
    choose.add_argument("method", choices=["window", "community", "ems"])
    choose.add_argument("--point", default="", help="the community point (社区便民点)")
    choose.add_argument("--address", default="", help="EMS: default the application's address")
    choose.add_argument("--recipient", default="")
    choose.add_argument("--phone", default="")
    choose.add_argument("--json", action="store_true")
    collect = delivery.add_parser("collect", help="collected: who, with their ID number")
    collect.add_argument("number")
    collect.add_argument("--name", required=True)
    collect.add_argument("--id-number", required=True)
    collect.add_argument("--json", action="store_true")
    ship = delivery.add_parser("ship", help="handed to EMS with its waybill number")
    ship.add_argument("number")
    ship.add_argument("--waybill", required=True)
    ship.add_argument("--json", action="store_true")
    for name, text in (("delivered", "EMS: delivered (妥投)"), ("returned", "EMS: returned (退回)")):
        mark = delivery.add_parser(name, help=text)
        mark.add_argument("number")
        mark.add_argument("--json", action="store_true")


def _entry_lines(entries: list[Any]) -> list[str]:
    lines = []
    for e in entries:
        holders = "、".join(str(h.get("name") or "") for h in e.facts.get("holders") or ())
        state = "现势" if e.state == "current" else f"已注销 ({e.closed_by})"
        cert = f"  {e.cert_number}" if e.cert_number else ""
        lines.append(f"{e.registered_at:%Y-%m-%d} {e.kind_label} {holders} {state}{cert}  [{e.id}]")
    return lines


def cmd_register(args: argparse.Namespace, settings: Settings) -> int:
    from workstation.cli_auth import open_desk, person

    desk = open_desk(settings)
    try:
        if args.action == "show":
            entries = desk.register.show(args.unit)
            _emit(
                args, [e.to_json() for e in entries], _entry_lines(entries) or [f"{args.unit}: 登记簿无记载 no entries"]
            )
            return 0
        actor = person(desk, settings)
        if args.action == "restrict":
            entry = desk.register.restrict(actor, args.unit, args.kind, basis=args.basis, holder=args.holder)
        else:
            entry = desk.register.lift(actor, args.entry, basis=args.basis)
        _emit(args, entry.to_json(), _entry_lines([entry]))
        return 0
    finally:
        desk.close()


def cmd_certificate(args: argparse.Namespace, settings: Settings) -> int:
    from workstation.cli_auth import open_desk, person
    from workstation.errors import UsageError
    from workstation.services.documents import verify_certificate, write_certificate

    desk = open_desk(settings)
    try:
        if args.number == "verify":
            if not args.file:
                raise UsageError("certificate verify FILE: name the PDF to check")
            result = verify_certificate(desk, Path(args.file))
            data = {
                "valid": result.valid,
                "signed": result.signed,
                "intact": result.intact,
                "trusted": result.trusted,
                "signer": result.signer,
                "signed_at": result.signed_at.isoformat() if result.signed_at else None,
                "problem": result.problem,
            }
            when = f", signed at {result.signed_at:%Y-%m-%d %H:%M:%S %Z}" if result.signed_at else ""
            line = (
                f"有效 valid: signed by {result.signer}{when}, not changed since"
                if result.valid
                else f"无效 NOT valid: {result.problem}"
            )
            _emit(args, data, [line])
            return 0 if result.valid else 1
        if not args.pdf:
            raise UsageError("certificate NUMBER --pdf OUT: name the PDF to write")
        out = write_certificate(desk, person(desk, settings), args.number, Path(args.pdf), electronic=args.electronic)
        _emit(args, {"path": str(out), "electronic": args.electronic}, [f"已写出 wrote {out}"])
        return 0
    finally:
        desk.close()


def cmd_notice(args: argparse.Namespace, settings: Settings) -> int:
    from workstation.cli_auth import open_desk, person
    from workstation.services.documents import write_notice

    desk = open_desk(settings)
    try:
        out = write_notice(desk, person(desk, settings), args.number, args.kind, Path(args.pdf))
        print(f"已写出 wrote {out}")
        return 0
    finally:
        desk.close()


def cmd_fee(args: argparse.Namespace, settings: Settings) -> int:
    from workstation.cli_auth import open_desk, person

    desk = open_desk(settings)
    try:
        if args.action == "show":
            view = desk.settle.charge(args.number)
        elif args.action == "receipt":
            from workstation.services.documents import write_fee_receipt

            print(f"已写出 wrote {write_fee_receipt(desk, person(desk, settings), args.number, Path(args.pdf))}")
            return 0
        elif args.action == "exempt":
            view = desk.settle.exempt(person(desk, settings), args.number, list(args.exemption))
        else:
            view = desk.settle.pay(
                person(desk, settings), args.number, method=args.method, amount=args.amount, reference=args.reference
            )
        _emit(args, view.to_json(), _charge_lines(view))
        return 0
    finally:
        desk.close()


def _charge_lines(view: Any) -> list[str]:
    if not view.due:
        return [f"{view.number}: 费用待核定 the fee cannot be assessed yet: {view.problem}"]
    lines = [f"{view.number}: 应缴 due {view.due} 元" + ("（免收 free）" if view.free else "")]
    lines += [f"  {label}  {amount}" for label, amount in view.items]
    if view.paid:
        lines.append(
            f"已缴费 paid {view.paid_at:%Y-%m-%d %H:%M} {view.method} {view.reference}  票据 {view.receipt_number}"
        )
    return lines


def cmd_delivery(args: argparse.Namespace, settings: Settings) -> int:
    from workstation.cli_auth import open_desk, person

    desk = open_desk(settings)
    try:
        if args.action == "show":
            view = desk.settle.delivery(args.number)
            if view is None:
                _emit(args, None, [f"{args.number}: 尚未选择领取方式 no delivery chosen yet"])
                return 0
        else:
            actor = person(desk, settings)
            details: dict[str, str] = {}
            if args.action == "choose":
                details = {
                    "method": args.method,
                    "point": args.point,
                    "address": args.address,
                    "recipient": args.recipient,
                    "phone": args.phone,
                }
            elif args.action == "collect":
                details = {"name": args.name, "id_number": args.id_number}
            elif args.action == "ship":
                details = {"waybill": args.waybill}
            view = desk.settle.deliver(actor, args.number, args.action, **details)
        state = view.state
        line = f"{args.number}: {state.get('method')} {state.get('status')}"
        for key in ("point", "address", "waybill", "collector"):
            if state.get(key):
                line += f"  {key} {state[key]}"
        _emit(args, view.to_json(), [line])
        return 0
    finally:
        desk.close()
