"""The `workstation` command. Errors a user can cause print one line and exit 2; system failures exit 1."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workstation.errors import UsageError, WorkstationError

if TYPE_CHECKING:  # the command starts in a fraction of a second: what a command needs, it imports itself
    from workstation.config import Settings

PROG = "workstation"
log = logging.getLogger("workstation")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, as for every other user mistake
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="不动产登记 digitisation and review workstation")
    parser.add_argument("--data-dir", help="where the desk keeps its database and scans (env WS_DATA_DIR)")
    parser.add_argument("--config", help="TOML configuration file (env WS_CONFIG)")
    parser.add_argument(
        "--as",
        dest="user",
        help="act as this person (env WS_USER; default: the OS user's mapping in the config, else admin); "
        "commands that change data ask for their password (env WS_PASSWORD)",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    sub.add_parser("run", help="the terminal UI (default when no command is given)")
    from workstation import cli_kiosk

    cli_kiosk.add_parser(sub)
    sub.add_parser("demo", help="a fresh data dir with sample users and dossiers, then the terminal UI")

    ext = sub.add_parser("extract", help="OCR, classify and extract scans without a database")
    ext.add_argument("paths", nargs="+", metavar="PATH", help="image (PNG, JPEG, TIFF…) or PDF files")
    ext.add_argument("--engine", default="rapidocr", help="rapidocr (default) or tesseract")
    ext.add_argument("--json", action="store_true", help="one JSON object per page per line (JSON Lines)")

    intake = sub.add_parser("intake", help="take scans into dossiers").add_subparsers(
        dest="action", parser_class=_Parser, metavar="ACTION", required=True
    )
    watch = intake.add_parser("watch", help="watch the hot folder and read what lands there, until Ctrl-C")
    watch.add_argument("inbox", nargs="?", help="the hot folder (default: the configured one, <data dir>/inbox)")
    watch.add_argument("--dossier", help="make this 受理号 the desk's active dossier first")
    watch.add_argument("--polling", action="store_true", help="poll the folder (network shares)")
    iadd = intake.add_parser("add", help="take files into a dossier now and read them")
    iadd.add_argument("paths", nargs="+", metavar="PATH")
    iadd.add_argument("--dossier", required=True, help="受理号")
    iadd.add_argument("--json", action="store_true")
    iq = intake.add_parser("quarantine", help="files the hot folder refused, with the reasons")
    iq.add_argument("inbox", nargs="?")
    iq.add_argument("--json", action="store_true")

    bench = sub.add_parser("bench", help="benchmarks that print comparable figures").add_subparsers(
        dest="action", parser_class=_Parser, metavar="ACTION", required=True
    )
    bocr = bench.add_parser("ocr", help="reading speed and accuracy on the sample scans, per engine")
    bocr.add_argument("--engine", action="append", help="rapidocr or tesseract (repeatable; default: all installed)")
    bocr.add_argument("--runs", type=int, default=3, help="timed runs; the median is reported")
    bocr.add_argument("--samples", help="a folder of scans with ground-truth JSON (default: the committed samples)")
    bocr.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    bocr.add_argument(
        "--heldout-seed",
        type=int,
        help="seed of the held-out family (default: the current one; retire a seed once seen)",
    )
    bocr.add_argument("--heldout-cases", type=int, help="cases in the held-out family (default 6)")
    bocr.add_argument("--no-heldout", action="store_true", help="the committed samples (or --samples) only")
    bocr.add_argument("--json", action="store_true")
    bint = bench.add_parser("intake", help="scan-to-fields latency and pages/minute, hot folder and pool running")
    bint.add_argument("--runs", type=int, default=3, help="timed runs; the medians are reported")
    bint.add_argument("--settle", type=float, default=0.5, help="the hot folder's settle time in seconds (default 0.5)")
    bint.add_argument("--engine", default="rapidocr", help="rapidocr (default) or tesseract")
    bint.add_argument("--pages", type=int, help="only the first sample files, up to this many pages (default: all)")
    bint.add_argument("--json", action="store_true")

    bq = bench.add_parser("queue", help="review claim latency p50/p99 and claims/second at 1, 10, 50 reviewers")
    bq.add_argument("--runs", type=int, default=3, help="timed runs; the medians are reported")
    bq.add_argument("--dossiers", type=int, default=2000, help="dossiers in the pool per run (default 2000)")
    bq.add_argument("--reviewers", type=int, action="append", help="concurrent reviewers (repeatable; 1, 10, 50)")
    bq.add_argument("--pg", help="PostgreSQL URL (default: WS_BENCH_PG_URL, else WS_TEST_PG_URL; else SQLite only)")
    bq.add_argument("--backend", action="append", choices=["sqlite", "postgresql"], help="default: both")
    bq.add_argument("--think-ms", type=float, default=0.0, help="a reviewer's pause between decisions")
    bq.add_argument("--json", action="store_true")
    bs = bench.add_parser("sync", help="push throughput, backlog drain after reconnect, resume cost after a cut")
    bs.add_argument("--runs", type=int, default=3, help="timed runs; the medians are reported")
    bs.add_argument("--dossiers", type=int, default=20, help="dossiers pushed for the throughput figure")
    bs.add_argument("--pages", type=int, default=20, help="pages per dossier")
    bs.add_argument("--page-kb", type=int, default=300, help="size of each page in KB")
    bs.add_argument("--backlog", type=int, default=500, help="dossiers captured offline for the drain figure")
    bs.add_argument("--pg", help="PostgreSQL URL for the registry (default: WS_BENCH_PG_URL; else SQLite)")
    bs.add_argument("--json", action="store_true")
    br = bench.add_parser(
        "registry",
        help="the registry under load over HTTP: reviewers claiming and deciding, desks pushing (PostgreSQL)",
        description="A load test of `registry serve --workers N` on a fresh PostgreSQL database per run: reviewers "
        "log in, claim and decide over HTTP, desks push pages and ops; claims/s, latencies, errors, the registry's "
        "CPU and memory. Scenarios: think (50 reviewers, 10 s think), saturation (50 reviewers, no think time; "
        "compared with a baseline commit), mixed (think's reviewers and 10 desks pushing). --upload measures "
        "instead the registry's memory while one large page is uploaded.",
    )
    br.add_argument("--scenario", choices=["think", "saturation", "mixed", "all"], default="all")
    br.add_argument("--reviewers", type=int, help="reviewers claiming at once (scenario's: 50)")
    br.add_argument("--think", type=float, help="a reviewer's think time, s, jittered ×0.5-1.5 (think, mixed: 10)")
    br.add_argument("--desks", type=int, help="desks pushing dossiers with pages (mixed: 10, else 0)")
    br.add_argument("--desk-think", type=float, help="a desk's pause between pushes, s (default 1)")
    br.add_argument("--workers", type=int, help="the registry's worker processes (default 2)")
    br.add_argument("--duration", type=float, help="seconds measured (default 60)")
    br.add_argument("--warmup", type=float, help="seconds of load before, not counted (default 5)")
    br.add_argument("--client-procs", type=int, default=2, help="processes of simulated desks (default 2)")
    br.add_argument("--pool", type=int, help="dossiers seeded in the review pool (default: enough for the run)")
    br.add_argument(
        "--pg-url",
        "--pg",
        dest="pg",
        metavar="URL",
        help="PostgreSQL URL (default: WS_BENCH_PG_URL, else WS_TEST_PG_URL)",
    )
    br.add_argument(
        "--baseline",
        metavar="REF",
        help="a commit to serve the same load from, for comparison (default fb566ed, the registry before the "
        "per-station audit chains, in saturation only); 'none' skips it; naming one compares every scenario",
    )
    br.add_argument("--with-baseline", action="store_true", help="compare with the baseline in every scenario")
    br.add_argument("--runs", type=int, default=3, help="runs per scenario and server, fresh databases; medians")
    br.add_argument(
        "--upload", action="store_true", help="instead: the registry's memory while a large page is uploaded"
    )
    br.add_argument("--upload-mb", type=float, default=60.0, help="with --upload: the page's size, MB (default 60)")
    br.add_argument("--json", action="store_true")
    bst = bench.add_parser("startup", help="how long the command takes to start: --help and dossier list")
    bst.add_argument("--runs", type=int, default=7, help="timed starts of each; the medians are reported")
    bst.add_argument("--json", action="store_true")
    bt = bench.add_parser("tui", help="terminal UI: cold start, opening a 200-page dossier, key latency under OCR")
    bt.add_argument("--runs", type=int, default=5, help="start-ups and openings measured; medians reported")
    bt.add_argument("--pages", type=int, default=200, help="pages of the dossier opened (default 200)")
    bt.add_argument("--keys", type=int, default=60, help="keys timed, idle and under OCR load")
    bt.add_argument("--load", type=int, default=24, help="sample scans fed to the OCR pool for the load figure")
    bt.add_argument("--json", action="store_true")

    dossier = sub.add_parser("dossier", help="open, inspect, submit and withdraw dossiers").add_subparsers(
        dest="action", parser_class=_Parser, metavar="ACTION", required=True
    )
    new = dossier.add_parser("new", help="open a draft dossier (预受理)")
    new.add_argument("--business", required=True, help="business code, e.g. ENT_NONRES_TRANSFER")
    new.add_argument("--applicant-kind", required=True, choices=["enterprise", "individual"])
    new.add_argument(
        "--channel", help="window|online|field|extension|self_service (default: the station kind's channel)"
    )
    new.add_argument("--condition", action="append", default=[], help="a case condition (repeatable)")
    new.add_argument("--name", help="applicant's name")
    new.add_argument("--id", dest="id_value", help="applicant's 身份证号 or 统一社会信用代码")
    new.add_argument("--json", action="store_true")
    lst = dossier.add_parser("list", help="dossiers, newest first")
    lst.add_argument("--status", help="only dossiers with this status")
    lst.add_argument("--limit", type=int, default=100)
    lst.add_argument("--json", action="store_true")
    for name, text in (("show", "one dossier"), ("submit", "submit (受理)"), ("withdraw", "withdraw (撤回)")):
        cmd = dossier.add_parser(name, help=text)
        cmd.add_argument("number", help="受理号")
        cmd.add_argument("--json", action="store_true")
        if name == "withdraw":
            cmd.add_argument("--reason", default="", help="why the applicants withdraw")
        if name == "submit":
            cmd.add_argument(
                "--override",
                action="store_true",
                help="submit past open error findings without asking (the override is recorded)",
            )
    fld = dossier.add_parser("field", help="confirm a value read by OCR, or correct it (as the dossier desk's e/c)")
    fld.add_argument("number", help="受理号")
    fld.add_argument("key", help="the field's key, e.g. uscc, org_name, area_m2 ('dossier show' lists them)")
    what = fld.add_mutually_exclusive_group()
    what.add_argument("--set", dest="value", metavar="VALUE", help="the correct value (identifiers are checked)")
    what.add_argument("--confirm", action="store_true", help="confirm the value as read")
    fld.add_argument("--page", type=int, metavar="N", help="the page (its position) when several pages carry the key")
    fld.add_argument("--json", action="store_true")
    ans = dossier.add_parser("answer", help="note how one item of the 补正 notice was addressed (补正说明)")
    ans.add_argument("number", help="受理号")
    ans.add_argument("item", type=int, help="the item's number on the notice (dossier show lists them)")
    ans.add_argument("--note", required=True, help="what was done, e.g. 已补交加盖公章的决议原件")
    ans.add_argument("--json", action="store_true")
    party = dossier.add_parser("party", help="add a party (buyer, seller, mortgagee…)")
    party.add_argument("number")
    party.add_argument("--role", required=True)
    party.add_argument("--kind", required=True, choices=["enterprise", "individual"])
    party.add_argument("--name")
    party.add_argument("--id", dest="id_value", help="身份证号 or 统一社会信用代码")
    party.add_argument("--json", action="store_true")
    cond = dossier.add_parser(
        "conditions", help="choose the dossier's conditions anew (夫妻共有, 变更事项…); the checklist follows"
    )
    cond.add_argument("number")
    cond.add_argument("--set", dest="conditions", action="append", default=None, metavar="CONDITION", help="repeatable")
    cond.add_argument("--none", action="store_true", help="clear every condition")
    cond.add_argument("--json", action="store_true")
    from workstation.domain.channels import SIGNING_METHODS

    sign = dossier.add_parser("sign", help="record who witnessed the applicants' signing, and how (extended windows)")
    sign.add_argument("number")
    sign.add_argument("--witness", required=True, help="who witnessed it, e.g. 张三(工商银行历下支行)")
    sign.add_argument("--method", required=True, choices=list(SIGNING_METHODS))
    sign.add_argument("--result", default="pass", choices=["pass", "fail"])
    sign.add_argument("--reference", required=True, help="face-check serial, e-signature id or notarial deed number")
    sign.add_argument("--json", action="store_true")
    waive = dossier.add_parser("waive", help="record a waiver for a required material")
    waive.add_argument("number")
    waive.add_argument("material", help="material code, e.g. M23")
    waive.add_argument("--party", help="party key (p1, p2…) when several parties need it")
    waive.add_argument("--reason", required=True)
    waive.add_argument("--json", action="store_true")
    clock = dossier.add_parser("clock", help="the dossier's time-limit clock (R19): used, left, due, pauses")
    clock.add_argument("number")
    clock.add_argument("--today", help="judge on this day, YYYY-MM-DD")
    clock.add_argument("--json", action="store_true")
    for name, text in (("pause", "stop the clock for 公告 or 实地查看"), ("resume", "restart the clock")):
        cmd = dossier.add_parser(name, help=text)
        cmd.add_argument("number")
        cmd.add_argument("reason", choices=["announcement", "site_visit"])
        if name == "pause":
            cmd.add_argument("--note", default="")
        cmd.add_argument("--json", action="store_true")
    ev = dossier.add_parser("evaluate", help="record the applicant's service evaluation (评价), 1-5")
    ev.add_argument("number")
    ev.add_argument("score", type=int, help="1 非常不满意 … 5 非常满意")
    ev.add_argument("--comment", default="")
    ev.add_argument("--channel", default="window")
    ev.add_argument("--json", action="store_true")
    refuse = dossier.add_parser("refuse", help="不予受理: refuse an application at the window, with its notice")
    refuse.add_argument("number", help="受理号")
    refuse.add_argument(
        "reason",
        choices=["out_of_jurisdiction", "not_registrable", "not_corrected", "incomplete_not_supplemented"],
    )
    refuse.add_argument("--note", default="")
    refuse.add_argument("--json", action="store_true")
    issue = dossier.add_parser("issue", help="缴费发证: hand over the certificate or proof (after 登簿)")
    issue.add_argument("number")
    issue.add_argument("--json", action="store_true")
    export = dossier.add_parser("export", help="the searchable dossier PDF (scans under their OCR text)")
    export.add_argument("number", help="受理号")
    export.add_argument("--pdf", required=True, metavar="OUT", help="the PDF file to write")
    export.add_argument("--json", action="store_true")
    receipt = dossier.add_parser("receipt", help="受理回执: print the receipt, or write it as a one-page PDF")
    receipt.add_argument("number", help="受理号")
    receipt.add_argument("--pdf", metavar="OUT", help="write the receipt PDF here instead of printing it")

    from workstation import cli_review

    cli_review.add_parsers(sub, _Parser)
    cli_review.add_qc_parsers(sub, _Parser)
    from workstation import cli_issue

    cli_issue.add_parsers(sub, _Parser)
    from workstation import cli_sync

    cli_sync.add_parsers(sub, _Parser)

    aud = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="action", parser_class=_Parser, metavar="ACTION", required=True
    )
    verify = aud.add_parser("verify", help="recompute the hash chain; exit 1 on any break")
    verify.add_argument("--json", action="store_true")
    verify.add_argument("--deep", action="store_true", help="also check every audited row against the trail")

    user = sub.add_parser("user", help="local users and their roles").add_subparsers(
        dest="action", parser_class=_Parser, metavar="ACTION", required=True
    )
    add = user.add_parser("add", help="add a user (admin only); the password is read from stdin or WS_NEW_PASSWORD")
    add.add_argument("username")
    add.add_argument("--role", action="append", required=True, help="clerk|reviewer|qc|admin (repeatable)")
    add.add_argument("--name", default="", help="display name")
    add.add_argument("--online", action="store_true", help="may review digitised dossiers online (R14)")
    add.add_argument("--offline", action="store_true", help="may review paper dossiers (R14)")
    add.add_argument("--json", action="store_true")
    ulist = user.add_parser("list", help="all users")
    ulist.add_argument("--json", action="store_true")
    for name, text in (("disable", "disable a user (admin only); nobody is deleted"), ("enable", "enable again")):
        act = user.add_parser(name, help=text)
        act.add_argument("username")
        act.add_argument("--json", action="store_true")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    from workstation.config import load_settings

    return load_settings(data_dir=args.data_dir, config_file=args.config, user=args.user)


def _emit(args: argparse.Namespace, data: Any, human: Callable[[], None]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, default=str))
    else:
        human()


def _local(ts: Any) -> str:
    from workstation.services.views import OFFICE_TZ

    return ts.astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M")


def _print_conditions(desk: Any, d: Any) -> None:
    biz = desk.catalogue.business(d.business)
    print(f"{d.number}  {biz.code} {biz.name}")
    for name, label in biz.conditions.items():
        print(f"  [{'x' if name in d.conditions else ' '}] {name:22} {label}")
    for group in biz.require_one_of:
        print(f"  至少选择一项 choose at least one of: {', '.join(group)}")
    if not biz.conditions:
        print("  本业务没有可选情形 this business has no conditions")


def _print_detail(d: Any) -> None:
    print(f"{d.number}  {d.business} {d.business_name}  [{d.status} @ {d.stage}]  v{d.version}")
    digitised = "是 yes" if d.digitized else "否 no"
    print(f"  申请 applied {_local(d.applied_at)}  渠道 channel {d.channel}  数字化 digitised {digitised}")
    print(f"  环节 stages  {' → '.join(d.stages)}")
    if d.conditions:
        print(f"  情形 conditions  {', '.join(d.conditions)}")
    if d.signing:
        sg = d.signing
        print(f"  签字见证 signing  {sg['method']} {sg['result']}  {sg['witness']}  {sg['reference']}")
    for p in d.parties:
        print(f"  {p.key} {p.role_label}({p.role}) {p.kind}: {p.name or '—'} {p.id_value or ''}".rstrip())
    for s in d.slots:
        mark = "✔" if s.satisfied else ("免收" if s.waived else ("✘" if s.required else "·"))
        who = f" [{s.party_key}]" if s.party_key else ""
        print(f"    {mark:6} {s.material} {s.label}{who}")
    if d.missing:
        print(f"  缺少 missing ({len(d.missing)}):")
        for item in d.missing:
            print(f"    - {item}")
    _print_pages(d)
    _print_fields(d, d.fields)
    _print_findings(d)
    if d.supplement is not None:
        _print_supplement(d.supplement)


_OCR_STATES = {
    "done": "已识别 read",
    "queued": "待识别 queued",
    "reading": "识别中 reading",
    "failed": "识别失败 failed",
}
_SEVERITIES = {"error": "✘ 错误 error", "warning": "! 警告 warning", "info": "· 提示 info"}


def _pad(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns (a Chinese character takes two)."""
    import unicodedata

    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - columns)


def _field_label(key: str) -> str:
    """`统一社会信用代码 uscc`: the Chinese label people read, and the key `dossier field` takes."""
    from workstation.domain.field_labels import field_label_zh

    label = field_label_zh(key)
    return key if label == key else f"{label} {key}"


def _print_pages(d: Any) -> None:
    print(f"  页面 pages ({len(d.pages)})" + (":" if d.pages else ": —"))
    for p in d.pages:
        where = " ".join(x for x in (p.material or "未分类 unsorted", f"[{p.party_key}]" if p.party_key else "") if x)
        state = _OCR_STATES.get(p.ocr_status, p.ocr_status)
        turned = f"  转 turned {p.rotation}°" if p.rotation else ""
        error = f": {p.ocr_error}" if p.ocr_error else ""
        print(f"    {p.position:>3}. {p.source_name}  {where}  {state}{error}{turned}")


def _print_fields(d: Any, fields: Any) -> None:
    positions = {p.id: p.position for p in d.pages}
    print(f"  字段 fields ({len(fields)})" + (":" if fields else ": —"))
    for f in fields:
        if f.valid is False:
            mark, note = "✘", "  校验不通过 invalid"
        elif f.confirmed:
            mark, note = "✔", f"  已确认 confirmed by {f.confirmed_by or '—'}"
        elif f.to_check:
            mark, note = "?", "  待核对 check it on the page"
        else:
            mark, note = "·", ""
        page = f"第{positions[f.page_id]}页 page {positions[f.page_id]}" if f.page_id in positions else "—"
        typed = getattr(f, "source", "ocr") in ("clerk", "reviewer")  # "confirmed": read by OCR, confirmed as read
        source = f"  录入 typed by {f.source}" if typed else f"  OCR {f.confidence:.0%}"
        print(f"    {mark} {_pad(_field_label(f.key), 30)} {f.value}  [{page}]{source}{note}")


def _print_findings(d: Any) -> None:
    positions = {p.id: p.position for p in d.pages}
    print(f"  问题 findings ({len(d.findings)})" + (":" if d.findings else ": —"))
    for f in d.findings:
        pages = [str(positions[i]) for i in f.page_ids if i in positions]
        where = f"  [页 pages {', '.join(pages)}]" if pages else ""
        print(f"    {_SEVERITIES.get(f.severity, f.severity)}  {f.rule}: {f.message}{where}")


def _print_supplement(sup: Any) -> None:
    state = "待补正 open" if sup.open else "已补正 answered"
    print(f"  补正 notice {_local(sup.decided_at)} by {sup.reviewer or '—'} ({state}, {len(sup.items)} 项 items)")
    if sup.note:
        print(f"    审核意见 opinion: {sup.note}")
    for i in sup.items:
        what = " ".join(x for x in (i.material, f"[{i.party_key}]" if i.party_key else None, i.field) if x)
        mark = "✔" if i.addressed else "✘"
        print(f"    {mark} {i.item}. {what} — {i.problem_label} {i.problem}" + (f": {i.note}" if i.note else ""))
        if i.answer:
            print(f"         说明 answer: {i.answer}")


def _print_clock(v: Any, indent: str = "") -> None:
    source = ""
    if v.source == "registry":
        told = (
            f"截至 as of {_local(v.synced_at)}"
            if v.synced_at
            else "中心尚未告知 the registry has not told this desk yet"
        )
        source = f"  (登记中心时限 the registry's clock, {told})"
    print((f"{indent}{v.state}" if indent else f"{v.number}  {v.business}  {v.state}") + source)
    if v.accepted is None:
        return
    due = v.due.isoformat() if v.due else "— (暂停 paused)"
    print(
        f"  受理 accepted {v.accepted}  时限 limit {v.limit_days} 工作日 working days"
        f"  已用 used {v.used}  剩余 left {v.remaining}  到期 due {due}"
    )
    for p in v.pauses:
        print(f"  暂停 paused {p.reason}: {p.start} → {p.end or '未结束 open'}")


def _cmd_dossier(args: argparse.Namespace, settings: Settings) -> int:
    from workstation.cli_auth import open_desk, person

    desk = open_desk(settings)
    try:
        svc = desk.dossiers
        if args.action == "list":
            rows = svc.list(status=args.status, limit=args.limit)

            def human() -> None:
                if not rows:
                    print("没有案卷 no dossiers")
                for r in rows:
                    print(
                        f"{r.number}  {r.business:<20} {r.status:<10} {r.stage:<14} "
                        f"{_local(r.applied_at)}  {r.applicant or '—'}"
                    )

            _emit(args, [r.to_json() for r in rows], human)
            return 0
        if args.action == "show":
            detail = svc.show(args.number)
            clock = desk.clocks.clock(args.number)

            def show() -> None:
                _print_detail(detail)
                _print_clock(clock, indent="  时限 clock ")

            _emit(args, {**detail.to_json(), "clock": clock.to_json()}, show)
            return 0
        if args.action == "clock":
            from workstation.cli_review import _day

            view = desk.clocks.clock(args.number, _day(args.today, "--today"))
            _emit(args, view.to_json(), lambda: _print_clock(view))
            return 0
        if args.action == "evaluate":
            ev = desk.records.evaluate(args.number, args.score, comment=args.comment, channel=args.channel)
            _emit(args, ev.to_json(), lambda: print(f"{args.number}: 评价已记录 evaluation {args.score}/5 recorded"))
            return 0
        actor = person(desk, settings)
        if args.action in ("pause", "resume"):
            action = desk.clocks.pause if args.action == "pause" else desk.clocks.resume
            extra = {"note": args.note} if args.action == "pause" else {}
            pause = action(actor, args.number, args.reason, **extra)
            _emit(args, pause.to_json(), lambda: print(f"{args.number}: 时限 clock {args.action}d ({args.reason})"))
            return 0
        if args.action == "issue":
            done = desk.review.issue(actor, args.number)
            _emit(args, done, lambda: print(f"{args.number}: 已发证 issued"))
            return 0
        if args.action == "export":
            from workstation.services.export import export_pdf

            report = export_pdf(desk, actor, args.number, Path(args.pdf))
            _emit(
                args,
                report.to_json(),
                lambda: print(f"已写出 wrote {report.path}: {report.pages} pages ({report.with_text} with text)"),
            )
            return 0
        if args.action == "receipt":
            from workstation.services.receipt import build_receipt, receipt_text, write_receipt_pdf

            receipt = build_receipt(desk, actor, args.number)
            if args.pdf:
                print(f"已写出 wrote {write_receipt_pdf(receipt, Path(args.pdf))}")
            else:
                print(receipt_text(receipt))
            return 0
        if args.action == "field":
            detail = _set_field(svc, actor, args)
            changed = [f for f in detail.fields if f.key == args.key]

            def human() -> None:
                print(f"{detail.number}: {'已更正 corrected' if args.value is not None else '已确认 confirmed'}")
                _print_fields(detail, changed)
                _print_findings(detail)

            _emit(args, detail.to_json(), human)
            return 0
        if args.action == "new":
            detail = svc.new(
                actor,
                business=args.business,
                applicant_kind=args.applicant_kind,
                channel=args.channel,
                conditions=args.condition,
                applicant_name=args.name,
                applicant_id=args.id_value,
            )
        elif args.action == "party":
            detail = svc.add_party(
                actor, args.number, role=args.role, kind=args.kind, name=args.name, id_value=args.id_value
            )
        elif args.action == "conditions":
            detail = svc.show(args.number)
            if args.conditions is None and not args.none:
                _emit(
                    args,
                    {"number": detail.number, "conditions": list(detail.conditions)},
                    lambda: _print_conditions(desk, detail),
                )
                return 0
            detail = svc.set_conditions(actor, args.number, [] if args.none else args.conditions)
        elif args.action == "sign":
            detail = svc.record_signing(
                actor,
                args.number,
                witness=args.witness,
                method=args.method,
                result=args.result,
                reference=args.reference,
            )
        elif args.action == "waive":
            detail = svc.waive(actor, args.number, material=args.material, party_key=args.party, reason=args.reason)
        elif args.action == "submit":
            _confirm_past_errors(svc.show(args.number), "提交 submit", args.override)
            detail = svc.submit(actor, args.number)
        elif args.action == "answer":
            detail = svc.answer(actor, args.number, args.item, args.note)
        elif args.action == "withdraw":
            detail = svc.withdraw(actor, args.number, reason=args.reason)
        elif args.action == "refuse":
            detail = svc.refuse_intake(actor, args.number, args.reason, note=args.note)
        else:  # pragma: no cover - argparse restricts the choices
            raise UsageError(f"unknown action {args.action}")
        _emit(args, detail.to_json(), lambda: _print_detail(detail))
        return 0
    finally:
        desk.close()


def _set_field(svc: Any, actor: Any, args: argparse.Namespace) -> Any:
    """`dossier field`: the same service call as the dossier desk's edit and confirm (permission, audit, outbox)."""
    if args.value is None and not args.confirm:
        raise UsageError("give --set VALUE to correct the value, or --confirm to confirm it as read")
    detail = svc.show(args.number)
    if args.page is not None:
        page_id = next((p.id for p in detail.pages if p.position == args.page), None)
        if page_id is None:
            raise UsageError(f"{args.number} has no page {args.page} (it has {len(detail.pages)})")
    else:
        on = [f for f in detail.fields if f.key == args.key and f.page_id is not None]
        positions = {p.id: p.position for p in detail.pages}
        if not on:
            raise UsageError(
                f"{args.number} has no field {args.key} read from a page ('dossier show' lists them); "
                "to enter one, give the page: --page N --set VALUE"
            )
        if len(on) > 1:
            where = ", ".join(str(positions.get(f.page_id, "?")) for f in on)
            raise UsageError(f"{args.key} is read on several pages ({where}): name one with --page N")
        page_id = on[0].page_id
    return svc.confirm_field(actor, args.number, page_id, args.key, value=args.value)


def _confirm_past_errors(detail: Any, what: str, override: bool) -> None:
    """Before a submit or an approval past open error findings: ask on a terminal, else want --override.

    The service records the override either way (who passed over which findings); this is the person's chance
    to stop, as the terminal UI's dialog is.
    """
    errors = [f for f in detail.findings if f.severity == "error"]
    if not errors or override:
        return
    listed = "; ".join(f"{f.rule}: {f.message}" for f in errors[:5]) + ("; …" if len(errors) > 5 else "")
    if sys.stdin.isatty() and sys.stdout.isatty():
        print(f"{detail.number} 有 {len(errors)} 个未解决的错误 open error findings: {listed}", file=sys.stderr)
        answer = input(f"仍然{what}并记录？ {what.split()[-1]} anyway, recorded as an override? [y/N] ")
        if answer.strip().lower() in ("y", "yes", "是"):
            return
        raise UsageError(f"未{what.split()[0]} not done: {detail.number} unchanged")
    raise UsageError(
        f"{detail.number} 有 {len(errors)} 个未解决的错误 has open error findings ({listed}): "
        f"check them, or give --override to {what.split()[-1]} past them (the override is recorded)"
    )


def _cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from sync.witness import verify_witnessed
    from workstation.cli_auth import open_desk

    desk = open_desk(settings)
    try:
        report = desk.verify_audit(deep=args.deep)
        witness = verify_witnessed(settings, desk.db)  # against the last head the registry witnessed
    finally:
        desk.close()
    ok = report.ok and witness.ok
    problem = "; ".join(p for p in (report.problem, witness.problem) if p) or None
    at_seq = report.at_seq if report.at_seq is not None else witness.at_seq
    data = {"ok": ok, "events": report.events, "problem": problem, "at_seq": at_seq, "witness": witness.to_json()}
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    elif ok:
        print(f"审计链完整 audit chain intact: {report.events} events")
    else:
        print(f"{PROG}: 审计链断裂 audit chain BROKEN: {problem}", file=sys.stderr)
    return 0 if ok else 1


def _read_new_password() -> str:
    import os

    if os.environ.get("WS_NEW_PASSWORD"):
        return os.environ["WS_NEW_PASSWORD"]
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise UsageError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def _cmd_user(args: argparse.Namespace, settings: Settings) -> int:
    from workstation.cli_auth import open_desk, person

    desk = open_desk(settings)
    try:
        if args.action == "list":
            users = desk.users.list()

            def human() -> None:
                for u in users:
                    off = "" if u.active else "  (已停用 disabled)"
                    print(f"{u.username:<16} {' '.join(u.roles):<24} {u.display_name}{off}")

            _emit(args, [u.to_json() for u in users], human)
            return 0
        actor = person(desk, settings)
        if args.action in ("disable", "enable"):
            changed = desk.users.set_active(actor, args.username, args.action == "enable")
            state = "已启用 enabled" if changed.active else "已停用 disabled"
            _emit(args, changed.to_json(), lambda: print(f"{changed.username}: {state}"))
            return 0
        view = desk.users.add(
            actor,
            username=args.username,
            password=_read_new_password(),
            roles=args.role,
            display_name=args.name,
            can_review_online=args.online,
            can_review_offline=args.offline,
        )
        _emit(args, view.to_json(), lambda: print(f"已添加 added {view.username} ({' '.join(view.roles)})"))
        return 0
    finally:
        desk.close()


def _cmd_extract(args: argparse.Namespace) -> int:
    """Pages as JSON Lines or as text on stdout; on a terminal (not with --json), files read, rate and time left."""
    import contextlib
    import io

    from ocr.errors import EngineUnavailable
    from ocr.pipeline import FileError
    from workstation.cli_progress import Progress
    from workstation.services.extract import check_engine, extract

    check_engine(args.engine)
    bad = False
    progress = Progress(
        "识别 reading", len(args.paths), unit="文件 files", rate_unit="文件/秒 files/s", quiet=args.json
    )
    current: str | None = None
    try:
        with progress:
            for result in extract(args.paths, engine=args.engine):
                if current is not None and result.file != current:
                    progress.advance()
                current = result.file
                if isinstance(result, FileError):
                    bad = True
                    if args.json:
                        print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
                    else:
                        progress.above(f"{PROG}: {result.error}", sys.stderr)
                    continue
                if args.json:
                    print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
                else:
                    text = io.StringIO()
                    with contextlib.redirect_stdout(text):
                        _print_page(result)
                    progress.above(text.getvalue().rstrip("\n"))
            if current is not None:
                progress.advance()
    except EngineUnavailable as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    return 2 if bad else 0


def _cmd_intake(args: argparse.Namespace, settings: Settings) -> int:
    from workstation.cli_auth import open_desk, person

    desk = open_desk(settings)
    try:
        if args.action == "quarantine":
            from workstation.services.hotfolder import Handled, HotFolder, Outcome

            def never(_path: Path, _hint: str | None) -> Handled:
                return Handled(Outcome.RETRY_LATER)

            entries = HotFolder(Path(args.inbox) if args.inbox else settings.inbox_dir, never).quarantined()
            rows = [{"file": str(e.path), "reason": e.reason, "at": e.when.isoformat()} for e in entries]

            def human() -> None:
                if not rows:
                    print("隔离区为空 quarantine is empty")
                for row in rows:
                    print(f"{row['file']}: {row['reason']}")

            _emit(args, rows, human)
            return 0
        actor = person(desk, settings)
        if args.action == "add":
            return _intake_add(desk, actor, args)
        return _intake_watch(desk, actor, args, settings)
    finally:
        desk.close()


def _intake_add(desk: Any, actor: Any, args: argparse.Namespace) -> int:
    from workstation.services.intake import IntakeRefused

    desk.dossiers.show(args.dossier)  # a wrong number is one line before any file is touched
    bad = False
    queued = 0
    for raw in args.paths:
        path = Path(raw)
        try:
            if not path.is_file():
                raise IntakeRefused(f"{path}: {'is a directory' if path.is_dir() else 'does not exist'}")
            result = desk.intake.ingest(actor, path, number=args.dossier, source=path.name)
        except IntakeRefused as exc:
            bad = True
            if args.json:
                print(json.dumps({"file": path.name, "error": str(exc)}, ensure_ascii=False))
            else:
                print(f"{PROG}: {exc}", file=sys.stderr)
            continue
        if result.outcome == "attached":
            queued += len(result.page_ids)
        if args.json:
            print(json.dumps({"file": path.name, "outcome": result.outcome, "pages": len(result.page_ids)}))
        else:
            print(result.message, flush=True)
    _read_pages(desk, args.dossier, queued, quiet=args.json)
    detail = desk.dossiers.show(args.dossier)
    _emit(args, detail.to_json(), lambda: _print_detail(detail))
    return 2 if bad else 0


def _read_pages(desk: Any, number: str, queued: int, *, quiet: bool) -> None:
    """Run the OCR queue until it is idle, showing pages read, rate and time left on a terminal."""
    from workstation.cli_progress import Progress

    progress = Progress("识别 reading", queued, quiet=quiet)

    def on_event(event: Any) -> None:
        if event.dossier_number == number and event.state in ("done", "failed"):
            progress.advance()

    unsubscribe = desk.events.subscribe(on_event)
    runner = desk.ocr_runner()
    try:
        with progress:
            runner.run_until_idle()
    finally:
        unsubscribe()
        runner.stop()


def _intake_watch(desk: Any, actor: Any, args: argparse.Namespace, settings: Settings) -> int:
    import signal
    import threading

    from workstation.services.intake_service import start_intake

    if args.dossier:
        desk.intake.set_active(actor, args.dossier)
    inbox = Path(args.inbox) if args.inbox else settings.inbox_dir
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    unsubscribe = desk.events.subscribe(lambda e: print(f"{e.dossier_number} {e.state:<11} {e.detail}", flush=True))
    running = start_intake(desk, actor, inbox=inbox, polling=args.polling or settings.intake_polling)
    active = desk.intake.active_number() or "none"
    print(f"正在监视 watching {inbox} (当前案卷 active dossier: {active}); Ctrl-C 停止 stops", flush=True)
    try:
        stop.wait()
    finally:
        running.stop()
        unsubscribe()
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.action == "startup":
        from bench import startup as bench_startup

        if args.runs < 1:
            raise UsageError("--runs must be at least 1")
        return bench_startup.main(runs=args.runs, as_json=args.json)
    from bench import ocr as bench_ocr
    from workstation.services.extract import check_engine

    if args.action == "intake":
        from bench import intake as bench_intake

        engine = check_engine(args.engine)
        if args.runs < 1:
            raise UsageError("--runs must be at least 1")
        if args.settle <= 0:
            raise UsageError("--settle must be more than 0")
        if args.pages is not None and args.pages < 1:
            raise UsageError("--pages must be at least 1")
        try:
            return bench_intake.main(
                runs=args.runs, pages=args.pages, engine=engine, settle=args.settle, as_json=args.json
            )
        except FileNotFoundError as exc:
            raise UsageError(str(exc)) from None

    if args.action == "queue":
        from bench import queue as bench_queue

        if args.runs < 1 or args.dossiers < 1:
            raise UsageError("--runs and --dossiers must be at least 1")
        return bench_queue.main(
            runs=args.runs,
            dossiers=args.dossiers,
            reviewers=tuple(args.reviewers or (1, 10, 50)),
            pg_url=args.pg,
            think_ms=args.think_ms,
            backends=tuple(args.backend or ("sqlite", "postgresql")),
            as_json=args.json,
        )
    if args.action == "registry":
        if args.upload:
            from bench import registry as bench_registry

            if args.runs < 1 or args.upload_mb <= 0:
                raise UsageError("--runs must be at least 1 and --upload-mb more than 0")
            return bench_registry.main(runs=args.runs, upload_mb=args.upload_mb, as_json=args.json)
        from bench import registry_load

        return registry_load.main(
            scenario=args.scenario,
            reviewers=args.reviewers,
            think=args.think,
            desks=args.desks,
            desk_think=args.desk_think,
            workers=args.workers,
            duration=args.duration,
            warmup=args.warmup,
            client_procs=args.client_procs,
            pool=args.pool,
            pg_url=args.pg,
            baseline=args.baseline,
            with_baseline=args.with_baseline,
            runs=args.runs,
            as_json=args.json,
        )
    if args.action == "tui":
        from bench import tui as bench_tui

        if min(args.runs, args.pages, args.keys) < 1 or args.load < 0:
            raise UsageError("--runs, --pages and --keys must be at least 1, --load at least 0")
        try:
            return bench_tui.main(runs=args.runs, pages=args.pages, keys=args.keys, load=args.load, as_json=args.json)
        except (FileNotFoundError, TimeoutError) as exc:
            raise UsageError(str(exc)) from None
    if args.action == "sync":
        from bench import sync as bench_sync

        if min(args.runs, args.dossiers, args.pages, args.page_kb, args.backlog) < 1:
            raise UsageError("--runs, --dossiers, --pages, --page-kb and --backlog must be at least 1")
        return bench_sync.main(
            runs=args.runs,
            dossiers=args.dossiers,
            pages=args.pages,
            page_kb=args.page_kb,
            backlog=args.backlog,
            pg_url=args.pg,
            as_json=args.json,
        )

    engines = [check_engine(e) for e in args.engine or []]
    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    samples = Path(args.samples) if args.samples else bench_ocr.SAMPLES
    try:
        return bench_ocr.main(
            engines,
            runs=args.runs,
            samples=samples,
            workers=args.workers,
            as_json=args.json,
            heldout=not args.no_heldout and args.samples is None,
            heldout_seed=args.heldout_seed or bench_ocr.HELDOUT_SEED,
            heldout_cases=args.heldout_cases or bench_ocr.HELDOUT_CASES,
        )
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None


def _print_page(result: Any) -> None:
    from ocr.corroborate import SURE

    turned = f", turned {result.rotation}°" if result.rotation else ""
    print(
        f"{result.file} p{result.page}: {result.material} ({result.material_confidence:.0%}) "
        f"{result.engine} {result.seconds:.2f}s{turned}"
    )
    for key, value in result.fields.items():
        mark = "✘" if not value.valid else ("?" if value.confidence < SURE else "✔")
        check = "  核对 check" if value.valid and value.confidence < SURE else ""
        extra = check + (f"  [{value.note}]" if value.note else "")
        print(f"    {mark} {key:<16} {value.value}  ({value.confidence:.0%}){extra}")


def _cmd_run(settings: Settings, *, login_hint: str | None = None) -> int:
    from workstation.cli_auth import open_desk

    desk = open_desk(settings)
    try:
        if desk.first_admin_password and sys.stdin.isatty():
            input("Press Enter to open the workstation… ")
        from workstation.tui.app import WorkstationApp

        logging.getLogger("workstation").propagate = False  # the UI owns the terminal: log to the file only
        _start_process_helpers()
        _probe_terminal_graphics()
        from workstation.cli_sync import attach_registry

        attach_registry(settings, desk)  # before the login screen: people with a registry log in there
        background = _Background(desk, settings)
        try:
            app = WorkstationApp(desk, login_hint=login_hint, on_shown=background.go)
            background.app = app
            app.run()
        finally:
            background.stop()
        return 0
    finally:
        desk.close()


def _probe_terminal_graphics() -> None:
    """Ask the terminal about Sixel/Kitty graphics, only when asked to (WS_TUI_IMAGE=auto|sixel|tgp).

    The question must be asked before Textual reads the keyboard, and a terminal that does not answer costs
    half a second of start-up; by default pages are drawn in half-cell blocks, which every terminal shows.
    """
    import contextlib
    import io
    import os

    if os.environ.get("WS_TUI_IMAGE", "").strip().lower() not in ("auto", "sixel", "tgp") or not sys.stdout.isatty():
        return
    from workstation.tui.widgets import page_image

    with contextlib.redirect_stderr(io.StringIO()):
        try:
            page_image.probe_terminal()
        except Exception as exc:  # an odd terminal: half-cell blocks it is
            log.info("terminal graphics probe failed (%s): pages drawn in half-cell blocks", exc)
            page_image.pin_renderer("halfcell")


def _start_process_helpers() -> None:
    """Start multiprocessing's helper processes now, on the real stderr.

    The OCR pool starts on a thread while the UI runs, and Textual swaps `sys.stderr` for an object without a
    usable file descriptor: the resource tracker or fork server started then fails ("bad value(s) in
    fds_to_keep") and no page is ever read.
    """
    import multiprocessing
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    if "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        forkserver.ensure_running()


class _Background:
    """Hot folder, OCR pool and sync agent, started on a thread beside the UI.

    The OCR workers take seconds of both cores to load their models: they start once the first screen is drawn
    (or after a few seconds at the latest), so the login screen neither waits for them nor competes with them.
    """

    def __init__(self, desk: Any, settings: Settings) -> None:
        self.app: Any = None  # the terminal UI: the hot folder takes pages in for the person logged in there
        self._intake: Any = None
        self._agent: Any = None
        self._stopping = threading.Event()
        self._go = threading.Event()
        self._thread = threading.Thread(target=self._start, args=(desk, settings), name="background", daemon=True)
        self._thread.start()

    def go(self) -> None:
        self._go.set()

    def _start(self, desk: Any, settings: Settings) -> None:
        self._go.wait(timeout=5.0)
        if self._stopping.is_set():
            return
        try:
            self._agent = _start_background_sync(desk, settings)
            if not self._stopping.is_set():
                self._intake = _start_background_intake(desk, settings, self._person)
        except Exception:
            log.exception("background intake or sync did not start")

    def _person(self) -> Any:
        """Who is logged in to the terminal UI now, if they may take pages in; else None (files wait)."""
        from workstation.domain.permissions import Permission, has_permission

        actor = getattr(self.app, "actor", None)
        return actor if actor is not None and has_permission(actor, Permission.DOSSIER_EDIT) else None

    def stop(self) -> None:
        self._stopping.set()
        self._go.set()
        self._thread.join()
        if self._agent is not None:
            self._agent.stop()
        if self._intake is not None:
            self._intake.stop()


def _start_background_sync(desk: Any, settings: Settings) -> Any:
    """The sync agent pushes and pulls on a timer while the UI runs, when a registry is configured."""
    if not settings.registry_url or settings.registry_token is None:
        log.info("no registry configured: this desk works alone (set registry_url and registry_token)")
        return None
    from workstation.cli_sync import make_agent

    agent = make_agent(settings, desk).start()
    desk.sync.attach(settings.registry_url, agent.wake)
    return agent


def _start_background_intake(desk: Any, settings: Settings, person: Callable[[], Any]) -> Any:
    """The hot folder and the OCR queue run beside the terminal UI; pages are taken in for the person logged in
    there (a clerk), each event naming them; while nobody who may is logged in, scans wait in the inbox."""
    from workstation.services.intake_service import start_intake

    return start_intake(desk, person, inbox=settings.inbox_dir, polling=settings.intake_polling)


def _cmd_demo(args: argparse.Namespace) -> int:
    """`make run`: a fresh desk with sample users and dossiers; the sample scans wait in the hot folder."""
    from pydantic import SecretStr

    from workstation.cli_auth import os_user
    from workstation.config import load_settings
    from workstation.services import audit
    from workstation.services.demo import DEMO_PASSWORD, provision_people, seed_demo

    audit.set_origin("tui", os_user())
    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="workstation-demo-"))
    settings = load_settings(
        data_dir=data_dir,
        config_file=args.config,
        user="clerk1",
        admin_password=DEMO_PASSWORD,
        intake_settle_seconds=0.5,
    )
    summary = seed_demo(settings)
    print(f"演示数据 demo data in {data_dir}: {summary}", file=sys.stderr)
    from sync.local import start_local_registry

    local = start_local_registry(settings)
    provision_people(local.registry.people)
    print(f"本地登记中心 local registry on {local.url} (data in {data_dir / 'registry'})", file=sys.stderr)
    settings = settings.model_copy(update={"registry_url": local.url, "registry_token": SecretStr(local.token)})
    try:
        return _cmd_run(
            settings,
            login_hint=f"演示账户 demo users: clerk1 / reviewer1 / qc1 / admin, password {DEMO_PASSWORD}",
        )
    finally:
        local.stop()


def _users_mistake(exc: BaseException) -> bool:
    """A typed error a user or the environment caused: one line, no traceback."""
    if isinstance(exc, WorkstationError):
        return True
    from workstation.domain.errors import DomainError

    return isinstance(exc, DomainError)


ROLE_LABELS = {
    "clerk": "办事员 clerk",
    "reviewer": "审核员 reviewer",
    "qc": "质检员 QC inspector",
    "registrar": "登簿人 registrar",
    "admin": "管理员 admin",
}


def _permission_hint(exc: BaseException, settings: Settings | None) -> str:
    """After a permission refusal, in the same line: which role may, who on this desk has it, or how to add one."""
    from workstation.domain.errors import PermissionDenied
    from workstation.domain.permissions import Permission, UserRole, permissions_of

    named = getattr(exc, "permission", None) if isinstance(exc, PermissionDenied) else None
    if named not in {p.value for p in Permission}:
        return ""
    wanted = Permission(named)
    roles = [r.value for r in UserRole if wanted in permissions_of([r])]
    if not roles:
        return ""
    who = " 或 or ".join(ROLE_LABELS.get(r, r) for r in roles)
    holders: list[str] = []
    if settings is not None:
        try:
            from workstation.services.desk import open_desk

            desk = open_desk(settings)
            try:
                holders = [u.username for u in desk.users.list() if u.active and set(u.roles) & set(roles)]
            finally:
                desk.close()
        except Exception:  # the hint is a courtesy: the refusal itself is the message
            log.exception("could not list the users for a permission hint")
    if holders:
        return f" — 请以{who}身份操作 act as {who}: {', '.join(f'--as {u}' for u in holders[:5])}"
    role = roles[0]
    where = "registry user add" if role in ("reviewer", "qc", "registrar") else "user add"
    return (
        f" — 需要{who} needs a {role}; 本机还没有 none on this desk yet: "
        f"{PROG} {where} NAME --role {role} (password from stdin or WS_NEW_PASSWORD), then {PROG} --as NAME …"
    )


def _setup_logging(settings: Settings | None) -> None:
    if settings is None:
        return
    try:
        log_dir = Path(settings.data_dir) / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_dir / "workstation.log", encoding="utf-8")
    except OSError:
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Every command, with one ending for output into a closed pipe (`… | head -1`): quiet, exit 141."""
    try:
        try:
            code = _main(argv)
        finally:  # --help and argparse's other exits included
            sys.stdout.flush()  # a block-buffered stdout meets the closed pipe here, not at exit
        return code
    except BrokenPipeError:
        if not _stdout_closed():
            log.error("internal error\n%s", traceback.format_exc())
            print(f"{PROG}: internal error: BrokenPipeError (not on the output)", file=sys.stderr)
            return 1
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)  # what is still buffered goes nowhere, without a second error
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13  # SIGPIPE, as a shell reports any tool whose reader went away


def _stdout_closed() -> bool:
    """Whether standard output is a pipe whose reader has gone (not a socket's broken pipe inside a command)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _fd, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return True


def _main(argv: Sequence[str] | None = None) -> int:
    import gc

    settings: Settings | None = None
    # The libraries a command loads are tens of thousands of objects that are never garbage: the cyclic collector
    # waits until the desk is open (`cli_auth.open_desk`), which freezes them out of its sight and starts it again.
    gc.disable()
    try:
        args = build_parser().parse_args(argv)
        command = args.command or "run"
        if command not in _OPENS_A_DESK:
            gc.enable()
        if command == "demo":
            return _cmd_demo(args)
        if command == "extract":
            return _cmd_extract(args)
        if command == "bench":
            return _cmd_bench(args)
        settings = _settings(args)
        import os

        from workstation import cli_auth

        cli_auth.NAMED = args.user is not None or bool(os.environ.get("WS_USER"))
        from workstation.services import audit

        audit.set_origin("tui" if command == "run" else "cli", cli_auth.os_user())  # on every event written here
        if command == "run":
            _setup_logging(settings)
            return _cmd_run(settings)
        if command == "kiosk":
            _setup_logging(settings)
            from workstation import cli_kiosk

            return cli_kiosk.cmd_kiosk(args, settings)
        _setup_logging(settings)
        from workstation import cli_issue, cli_review, cli_sync

        handlers = {
            "register": cli_issue.cmd_register,
            "certificate": cli_issue.cmd_certificate,
            "notice": cli_issue.cmd_notice,
            "fee": cli_issue.cmd_fee,
            "delivery": cli_issue.cmd_delivery,
            "dossier": _cmd_dossier,
            "audit": _cmd_audit,
            "user": _cmd_user,
            "intake": _cmd_intake,
            "review": cli_review.cmd_review,
            "qc": cli_review.cmd_qc,
            "registry": cli_sync.cmd_registry,
            "sync": cli_sync.cmd_sync,
        }
        return handlers[command](args, settings)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # `main` tells a closed output from a failure
    except Exception as exc:
        if _users_mistake(exc):
            print(f"{PROG}: error: {exc}{_permission_hint(exc, settings)}", file=sys.stderr)
            return getattr(exc, "exit_code", 2)
        _setup_logging(settings)
        log.error("internal error\n%s", traceback.format_exc())
        where = f"; details in {Path(settings.data_dir) / 'logs' / 'workstation.log'}" if settings else ""
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc}{where}", file=sys.stderr)
        return 1
    finally:
        gc.enable()


_OPENS_A_DESK = frozenset(
    {"run", "dossier", "audit", "user", "intake", "review", "qc", "sync", "register", "certificate", "notice", "fee"}
    | {"delivery", "kiosk"}
)


def run() -> None:
    sys.exit(main())
