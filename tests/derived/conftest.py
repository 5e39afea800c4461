"""Derived images: Dockerfiles written for phusion/baseimage, built FROM the image under test.

Each folder of tests/fixtures/derived/ is a build context whose Dockerfile says
``FROM boxwright/baseimage:latest`` as a phusion user's says ``FROM phusion/baseimage``; the
build swaps that line for the id of the image under test (never a shared tag). Keys and
certificates are made per session and written into a copy of the context.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import paramiko
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from boxwright.image.definition import ImageDefinition
from support.derived import build_from

CONTEXTS = Path(__file__).parents[1] / "fixtures" / "derived"


def phusion_compatible(definition: ImageDefinition) -> bool:
    """The definitions this suite is for: the userland and sshd a phusion Dockerfile expects."""
    return definition.service_enabled("sshd") and "curl" in definition.packages


@pytest.fixture(scope="session")
def derived_base(baseimage: str, image_definition: ImageDefinition) -> str:
    if not phusion_compatible(image_definition):
        pytest.skip(f"{image_definition.name} is the slim variant: no phusion userland, no sshd (README)")
    return baseimage


@pytest.fixture(scope="session")
def ssh_key() -> paramiko.RSAKey:
    return paramiko.RSAKey.generate(2048)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@pytest.fixture(scope="session")
def tls_files() -> dict[str, bytes]:
    """A throw-away CA and a certificate for ``localhost`` it signed (PEM)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def certificate(subject: str, issuer: str, public: Any) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
                .public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=2)))

    usage = x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False, data_encipherment=False,
                          key_agreement=False, encipher_only=False, decipher_only=False)
    # Python 3.13 verifies strictly (VERIFY_X509_STRICT): key identifiers are required.
    ca_id = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (certificate("boxwright test CA", "boxwright test CA", ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(usage, critical=True)
          .add_extension(ca_id, critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (certificate("localhost", "boxwright test CA", key.public_key())
              .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_id),
                             critical=False)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return {
        "test-ca.crt": ca.public_bytes(pem),
        "server.crt": server.public_bytes(pem),
        "server.key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    }


@pytest.fixture(scope="session")
def derived_build(
    engine: docker.DockerClient, derived_base: str, tmp_path_factory: pytest.TempPathFactory,
    ssh_key: paramiko.RSAKey, tls_files: dict[str, bytes],
) -> Iterator[Callable[[str], str]]:
    """``derived_build(folder)``: build tests/fixtures/derived/<folder> FROM the image under test."""
    built: dict[str, str] = {}

    def build(folder: str) -> str:
        if folder not in built:
            files = {"your_key.pub": f"{ssh_key.get_name()} {ssh_key.get_base64()} test\n".encode(),
                     **tls_files}
            scratch = tmp_path_factory.mktemp(folder) / "context"
            built[folder] = build_from(engine, CONTEXTS / folder, derived_base, scratch, files)
        return built[folder]

    yield build
    for image_id in built.values():
        with contextlib.suppress(docker.errors.DockerException):
            engine.images.remove(image_id, force=True)
