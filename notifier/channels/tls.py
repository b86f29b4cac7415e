"""The TLS trust of our clients: the system's roots, and a bundle the operator names besides
them (a channel whose certificate chains to a CA the system does not know, such as MAX's and
many Russian relays' Russian Trusted Root CA)."""

from __future__ import annotations

import ssl
from pathlib import Path


def ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system's trusted roots, and the PEM bundle at `ca_file` besides them."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def untrusted(exc: BaseException) -> bool:
    """Whether a connection failed because the server's certificate is not trusted here."""
    return isinstance(exc, ssl.SSLCertVerificationError) or isinstance(
        exc.__cause__, ssl.SSLCertVerificationError
    )
