"""Signing the registry's PDFs (PAdES baseline B-B) and checking a signed PDF.

The office signs with one key of its own: an EC P-256 key and a self-signed certificate naming the office, kept in
a folder only the workstation's user can read. Whoever checks a document trusts that certificate (or the
registry's) by being given it; nothing is fetched from the network. A signature is an incremental update on the
PDF as rendered, so the signed bytes are the rendered bytes, unchanged.

Checking never raises on what it is given: a damaged, truncated or tampered file is an answer (not valid, and why,
in one line of Chinese and English), not an error.
"""

from __future__ import annotations

import io
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workstation.errors import UsageError, WorkstationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

KEY_FILE, CERT_FILE = "signing.key", "signing.crt"
VALID_YEARS = 10
DEFAULT_REASON = "不动产登记电子证照"
FIELD_NAME = "Signature1"

UNSIGNED = "没有签名 the PDF carries no signature"
CHANGED = "文件已被改动 the file was changed after signing"
BROKEN = "签名无效 the signature does not match the signed content"
UNCOVERED = "签名后文件被追加改动 the file was changed after signing (content added after the signature)"
UNTRUSTED = "签名证书不受信任 the signer's certificate is not a trusted one"
DAMAGED = "文件已损坏，无法核验签名 the PDF is damaged and its signature cannot be checked"


@dataclass(frozen=True)
class SigningKey:
    """The office's signing key and its certificate, both PEM."""

    key_pem: bytes = field(repr=False)
    certificate_pem: bytes

    @property
    def subject(self) -> str:
        """The certificate's common name: the office that signs."""
        return _common_name(_certificate(self.certificate_pem, "the signing certificate"))

    @classmethod
    def load_or_create(cls, key_dir: Path, subject: str) -> SigningKey:
        """The key in `key_dir` (signing.key, signing.crt), created the first time. Two processes creating it at
        once end with one key: each file appears whole or not at all, and the first one there wins."""
        key_dir = Path(key_dir)
        key_path, cert_path = key_dir / KEY_FILE, key_dir / CERT_FILE
        try:
            key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not key_path.exists():
                _publish(key_path, _new_key_pem(), 0o600)
            key_pem = key_path.read_bytes()
            key = _private_key(key_pem, key_path)
            if not cert_path.exists():
                # made from the key on disk, whoever's it is: any certificate published belongs to that key
                _publish(cert_path, _self_signed_pem(key, subject), 0o644)
            cert_pem = cert_path.read_bytes()
        except OSError as exc:
            raise WorkstationError(
                f"cannot create or read the signing key in {key_dir} ({exc.strerror or type(exc).__name__})"
            ) from None
        _matching(key, _certificate(cert_pem, str(cert_path)), key_path, cert_path)
        return cls(key_pem=key_pem, certificate_pem=cert_pem)


@dataclass(frozen=True)
class Verification:
    """What checking a PDF's signature found. `valid`: intact, by a trusted signer, covering the whole file."""

    signed: bool
    intact: bool
    valid: bool
    trusted: bool
    signer: str
    signed_at: datetime | None
    problem: str  # one line, Chinese and English, when not valid


def sign_pdf(pdf: bytes, key: SigningKey, *, reason: str = DEFAULT_REASON, location: str = "") -> bytes:
    """`pdf` with a PAdES B-B signature by `key` added as an incremental update."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # heavy: only where used
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cert = _asn1_certificate(key.certificate_pem)
    signer = signers.SimpleSigner(
        signing_cert=cert,
        signing_key=_asn1_key(key.key_pem),
        # The signer's certificate goes in once (SimpleSigner adds it): a second copy in the registry would be a
        # spare that lets a damaged first copy pass unnoticed.
        cert_registry=SimpleCertificateStore(),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason or None,
        location=location or None,
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        return bytes(signers.sign_pdf(writer, meta, signer=signer).getvalue())
    except Exception as exc:  # pyHanko's reader raises many kinds on a malformed PDF; one line for the user
        raise UsageError(f"cannot sign the PDF: {_brief(exc)}") from None


def verify_pdf(data: bytes, trusted: Sequence[bytes] = ()) -> Verification:
    """Check every signature of `data` against the `trusted` certificates (PEM or DER). Never raises on `data`."""
    roots = [root for blob in trusted for root in _asn1_certificates(blob)]
    try:
        return _verify(bytes(data), roots)
    except Exception as exc:  # a damaged file can fail anywhere in the parser: that is an answer, not a crash
        return _unverified(f"{DAMAGED} ({_brief(exc)})", signed=b"/ByteRange" in data)


def _verify(data: bytes, roots: list[Any]) -> Verification:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    signatures = PdfFileReader(io.BytesIO(data)).embedded_signatures
    if not signatures:
        return _unverified(UNSIGNED, signed=False)
    # Only the given roots: an empty list trusts nobody (not the system's web CAs), and nothing is fetched.
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    statuses = [validate_pdf_signature(signature, context) for signature in signatures]
    sound = [_envelope_sound(signature, data) for signature in signatures]
    tails = [_after(signature.byte_range, data) for signature in signatures]
    problems = [
        problem
        for status, envelope, tail in zip(statuses, sound, tails, strict=True)
        if (problem := _problem(status, envelope, tail))
    ]
    last = statuses[-1]  # the latest signature: the one that must cover the whole file
    intact = all(status.intact and status.valid and envelope for status, envelope in zip(statuses, sound, strict=True))
    trusted = all(status.trusted for status in statuses)
    return Verification(
        signed=True,
        intact=intact,
        valid=not problems,
        trusted=trusted,
        signer=_common_name_asn1(last.signing_cert),
        signed_at=last.signer_reported_dt,
        problem=problems[0] if problems else "",
    )


def _unverified(problem: str, *, signed: bool) -> Verification:
    return Verification(
        signed=signed, intact=False, valid=False, trusted=False, signer="", signed_at=None, problem=problem
    )


# As a signer writes /Contents: hex digits of one case, nothing between them (a reader skips white space there,
# so a space put in for a digit would otherwise go unnoticed).
_HEX_DIGITS = re.compile(rb"[0-9A-F]*|[0-9a-f]*")


def _envelope_sound(signature: Any, data: bytes) -> bool:
    """The parts of the signature's CMS envelope its own signature does not cover (the versions, the list of
    digest algorithms, the zero padding after it, the case of its hex digits) must be as a signer writes them: one
    byte changed there is as much a changed file as one changed in the page."""
    from asn1crypto import cms

    signed_data, raw = signature.signed_data, bytes(signature.pkcs7_content)
    _, end, start, _ = (int(value) for value in signature.byte_range)
    digits = data[end + 1 : start - 1]  # the hex string between < and >, the one gap in what is signed
    length = len(cms.ContentInfo.load(raw).dump())  # the envelope's own bytes, without the padding
    listed = {algorithm.dump() for algorithm in signed_data["digest_algorithms"]}
    return bool(
        _HEX_DIGITS.fullmatch(digits)
        and not raw[length:].strip(b"\x00")
        and signed_data["version"].native in _signed_data_versions(signed_data)
        and all(info["version"].native == _signer_version(info) for info in signed_data["signer_infos"])
        and all(info["digest_algorithm"].dump() in listed for info in signed_data["signer_infos"])
    )


def _signer_version(info: Any) -> str:
    # RFC 5652 5.3: v1 when the signer is named by issuer and serial number, v3 by subject key identifier
    return "v1" if info["sid"].name == "issuer_and_serial_number" else "v3"


def _signed_data_versions(signed_data: Any) -> tuple[str, ...]:
    # RFC 5652 5.1: v1 for plain certificates, data content and v1 signers; v3 when a signer is v3 or the content
    # is not data; attribute or other certificates (v4, v5) are left to the signature's own checks.
    if any(choice.name != "certificate" for choice in signed_data["certificates"] or ()):
        return ("v3", "v4", "v5")
    infos = signed_data["signer_infos"]
    plain = signed_data["encap_content_info"]["content_type"].native == "data"
    return ("v1",) if plain and all(_signer_version(info) == "v1" for info in infos) else ("v3",)


def _after(byte_range: Sequence[int], data: bytes) -> bytes:
    """The bytes after what a signature covers."""
    _, _, start, length = (int(value) for value in byte_range)
    return data[start + length :]


def _problem(status: Any, envelope: bool, tail: bytes) -> str:
    """Why one signature is not valid, or "". `envelope`: its CMS envelope is as written; `tail`: the file's bytes
    after what the signature covers."""
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import SignatureCoverageLevel

    if not status.intact or not envelope:
        return CHANGED
    if not status.valid:
        return BROKEN
    # pyHanko calls a signed revision followed by bytes that are no revision (junk after %%EOF) ENTIRE_REVISION
    # with no modification; whatever follows the signature must be nothing but white space to count as unchanged.
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
        status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
        and status.modification_level == ModificationLevel.NONE
        and not tail.strip(b" \t\r\n\f\x00")
    )
    if not whole:
        return UNCOVERED
    if not status.trusted:
        return f"{UNTRUSTED} ({_common_name_asn1(status.signing_cert)})"
    return ""


# ---------------------------------------------------------------------------------------------- key and cert


def _new_key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    # Unencrypted: the file's mode (0600, in a 0700 folder) guards it, as the workstation signs unattended.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _self_signed_pem(key: PrivateKeyTypes, subject: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, subject), x509.NameAttribute(NameOID.ORGANIZATION_NAME, subject)]
    )
    now = datetime.now(UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,  # nonRepudiation: the office stands by what it signed
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[arg-type]  # an EC key, made by _new_key_pem
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # a checker's clock a little behind still accepts it
        .not_valid_after(now + timedelta(days=365 * VALID_YEARS + VALID_YEARS // 4))
        .add_extension(usage, critical=True)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)  # type: ignore[arg-type]
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _publish(path: Path, data: bytes, mode: int) -> None:
    """`data` at `path` unless a file is there already: written whole to a temporary name, then hard-linked, which
    fails when `path` exists (the other writer won; its file stays)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # The new name lasts a power cut only once the folder is on disk too.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _private_key(pem: bytes, path: Path) -> PrivateKeyTypes:
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise WorkstationError(
            f"the signing key {path} cannot be read ({_brief(exc)}); restore it from a backup, "
            "or move it away to make a new key"
        ) from None


def _certificate(pem: bytes, name: str) -> Any:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise WorkstationError(
            f"the signing certificate {name} cannot be read ({_brief(exc)}); restore it from a backup, "
            "or move it away to make a new one"
        ) from None


def _matching(key: PrivateKeyTypes, cert: Any, key_path: Path, cert_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    def spki(public: Any) -> bytes:
        return bytes(public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))

    if spki(key.public_key()) != spki(cert.public_key()):
        raise WorkstationError(
            f"the signing certificate {cert_path} is not the certificate of the key {key_path}; "
            "move the certificate away to make a new one for the key"
        )


def _common_name(cert: Any) -> str:
    from cryptography.x509.oid import NameOID

    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def _asn1_key(pem: bytes) -> Any:
    from pyhanko.keys import load_private_key_from_pemder_data

    return load_private_key_from_pemder_data(pem, passphrase=None)


def _asn1_certificate(pem: bytes) -> Any:
    return _asn1_certificates(pem)[0]


def _asn1_certificates(blob: bytes) -> list[Any]:
    """The certificates in `blob`, PEM (one or more) or DER."""
    from pyhanko.keys import load_certs_from_pemder_data

    try:
        certs = list(load_certs_from_pemder_data(blob))
        for cert in certs:
            cert.native  # noqa: B018  # asn1crypto parses lazily: garbage shows only when read
    except Exception as exc:  # asn1crypto raises ValueError, TypeError or its own errors on garbage
        raise UsageError(f"not a certificate (PEM or DER): {_brief(exc)}") from None
    if not certs:
        raise UsageError("not a certificate (PEM or DER): no certificate in it")
    return certs


def _common_name_asn1(cert: Any) -> str:
    names = cert.subject.native
    return str(names.get("common_name") or cert.subject.human_friendly)


def _brief(exc: BaseException) -> str:
    """An exception as a few words on one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "…"
