"""What the registry's written documents say, apart from how they are laid out: plain frozen values, so a notice
can be built by a use case, rendered, stored and rendered again the same."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

NOTICE_KINDS = ("receipt", "supplement", "refuse-intake", "refuse-registration")
CERTIFICATE_KINDS = ("certificate", "proof")


@dataclass(frozen=True)
class Office:
    """The registration office that issues the document."""

    name: str  # 济南市不动产登记中心
    address: str = ""
    phone: str = ""
    seal_text: str = ""  # drawn inside the seal area, e.g. "济南市不动产登记中心 业务专用章"
    status_url: str = ""  # template with {number}: the QR to a dossier's status
    verify_url: str = ""  # template with {number}: the QR on an electronic certificate
    appeal: str = ""  # the appeal route a refusal names (行政复议 / 行政诉讼)


@dataclass(frozen=True)
class Line:
    """A labelled row of a form table."""

    label: str
    value: str


@dataclass(frozen=True)
class Notice:
    """受理凭证, 补正材料通知书, 不予受理告知书 or 不予登记告知书 (`kind`, one of NOTICE_KINDS)."""

    kind: str
    number: str  # 受理号, e.g. JN01-2026-000123
    business: str  # 业务名称, e.g. 存量房转移登记
    applicants: tuple[Line, ...]  # label: the role (买受人); value: the name and masked identifier
    rows: tuple[Line, ...] = ()  # other facts: 坐落, 不动产单元号, 受理时间, 承诺办结时限, 应缴费用 …
    items: tuple[Line, ...] = ()  # receipt: materials received; supplement: every item to supplement
    reason: str = ""  # refusals: the reason
    legal_basis: str = ""  # refusals: e.g. 《不动产登记暂行条例》第二十二条第（一）项
    issued_on: date | None = None  # None leaves the date blank, to be written by hand
    clerk: str = ""  # 经办人


@dataclass(frozen=True)
class CertificateData:
    """The 缮证 page of a 不动产权证书 (kind "certificate") or 不动产登记证明 (kind "proof")."""

    number: str  # 鲁(2026)济南市不动产权第0000001号
    kind: str
    holders: tuple[str, ...]  # 权利人; of a proof, the mortgagee
    rows: tuple[Line, ...]  # 共有情况, 坐落, 不动产单元号, 权利类型 … or 证明权利或事项, 义务人, 坐落 …
    registered_on: date
    note: str = ""  # 附记


@dataclass(frozen=True)
class PaymentReceipt:
    """票据 / 缴费凭证 of the registration fees of one dossier."""

    number: str  # the receipt's (票据) number
    dossier: str  # 受理号
    payer: str
    items: tuple[Line, ...]  # label: the fee item; value: the amount, e.g. "80.00"
    total: str  # "90.00"
    method: str  # 扫码支付 | 网上支付 | 现金
    reference: str  # the transaction reference, or the cash receipt's number
    paid_at: datetime
