"""The registry's written documents as real PDFs: notices, certificates and fee receipts laid out as Chinese
government forms (render), and signed and checked as PAdES (signing)."""

from workstation.services.paper.model import CertificateData, Line, Notice, Office, PaymentReceipt
from workstation.services.paper.render import (
    certificate_pdf,
    notice_pdf,
    payment_receipt_pdf,
    write_atomic,
    yuan_in_words,
)
from workstation.services.paper.signing import SigningKey, Verification, sign_pdf, verify_pdf

__all__ = [
    "CertificateData",
    "Line",
    "Notice",
    "Office",
    "PaymentReceipt",
    "SigningKey",
    "Verification",
    "certificate_pdf",
    "notice_pdf",
    "payment_receipt_pdf",
    "sign_pdf",
    "verify_pdf",
    "write_atomic",
    "yuan_in_words",
]
