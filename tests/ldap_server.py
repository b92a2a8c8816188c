"""A private OpenLDAP server for tests: Debian's slapd as a subprocess.

    with Slapd() as directory:
        directory.url        # ldap://127.0.0.1:<port>   (StartTLS offered too)
        directory.ldaps_url  # ldaps://127.0.0.1:<port>
        directory.ca_file    # PEM of the throwaway CA that signed the server cert

Everything lives in one temporary directory: a slapd.conf, an mdb database, a CA
and a server certificate made with `cryptography` (SANs 127.0.0.1 and localhost),
and slapd's log. The server listens on free 127.0.0.1 ports only, runs in the
foreground (`-d 0`) as our child, and is stopped (then killed) by `stop()`.

The directory (suffix dc=example,dc=org, root cn=admin,dc=example,dc=org) is loaded
over LDAP after start, not with slapadd, so the memberof overlay fills in memberOf:

    cn=reader                      the search account (READER_DN / READER_PASSWORD)
    ou=people  alice  (devs)       employeeType staff, displayName, mail
               bob    (ops)        employeeType contractor
               carol  (no groups)  employeeType staff, no displayName
               dan    (ops)        DN cn=Dan\\, Jr. (ops): parentheses and a comma
               star*  (no groups)  a uid with a literal '*'
               twin                also in ou=others: an ambiguous login
    ou=others  twin
    ou=hidden  hank   (devs)       readable only by the search account, not anonymously
    ou=groups  devs (alice, hank), ops (bob, dan)

Access: anyone may bind; anonymous and users may read everything except ou=hidden
and passwords.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret"
READER_DN = f"cn=reader,{SUFFIX}"
READER_PASSWORD = "reader-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
DEVS = f"cn=devs,{GROUPS}"
OPS = f"cn=ops,{GROUPS}"

PASSWORDS = {
    "alice": "alice-pw",
    "bob": "bob-pw",
    "carol": "carol-pw",
    "dan": "dan-pw",
    "star*": "star-pw",
    "twin": "twin-pw",
    "hank": "hank-pw",
}
DNS = {
    "alice": f"uid=alice,{PEOPLE}",
    "bob": f"uid=bob,{PEOPLE}",
    "carol": f"uid=carol,{PEOPLE}",
    "dan": rf"cn=Dan\, Jr. (ops),{PEOPLE}",
    "star*": rf"uid=star*,{PEOPLE}",
    "twin": f"uid=twin,{PEOPLE}",
    "hank": f"uid=hank,ou=hidden,{SUFFIX}",
}

SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
START_TIMEOUT = 10.0


def slapd_binary() -> str:
    """Path of slapd (in /usr/sbin, often not on a user's PATH); fails loudly if absent."""
    for candidate in (shutil.which("slapd"), "/usr/sbin/slapd", "/usr/local/sbin/slapd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "slapd not found: the LDAP tests need Debian's slapd and ldap-utils "
        "(run `bash scripts/install-system-deps.sh`)"
    )


def ssha(password: str) -> str:
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # what {SSHA} is
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key): a throwaway CA and a server cert it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Berth test LDAP CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file


SLAPD_CONF = """\
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
modulepath {modules}
moduleload back_mdb
moduleload memberof
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}

database mdb
maxsize 16777216
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {dir}/db
overlay memberof

access to attrs=userPassword
    by anonymous auth
    by * none
access to dn.subtree="ou=hidden,{suffix}"
    by dn.exact="{reader_dn}" read
    by * none
access to *
    by * read
"""


class Slapd:
    def __init__(self) -> None:
        self.binary = slapd_binary()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.ldaps_port = 0
        self.ca_file = Path()
        self.log_file = Path()

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="berth-slapd-")
        base = Path(self._tmp.name)
        (base / "db").mkdir()
        self.ca_file, cert, key = make_certificates(base)
        conf = base / "slapd.conf"
        conf.write_text(
            SLAPD_CONF.format(
                schema=SCHEMA_DIR, modules=MODULE_DIR, dir=base, ca=self.ca_file, cert=cert, key=key,
                suffix=SUFFIX, root_dn=ROOT_DN, root_password=ROOT_PASSWORD, reader_dn=READER_DN,
            )
        )
        self.port, self.ldaps_port = free_port(), free_port()
        self.log_file = base / "slapd.log"
        with self.log_file.open("wb") as log:
            self._proc = subprocess.Popen(
                [
                    self.binary, "-f", str(conf),
                    "-h", f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.ldaps_port}/",
                    "-d", "0",  # a debug level keeps slapd in the foreground, our child
                ],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_listening()
            self._load()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            tmp.cleanup()

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        pending = {self.port, self.ldaps_port}
        while pending:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"slapd exited with {self._proc.returncode}:\n{self.log()}")
            pending = {port for port in pending if not _listening(port)}
            if pending:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"slapd did not listen within {START_TIMEOUT}s:\n{self.log()}")
                time.sleep(0.02)

    def _load(self) -> None:
        import ldap3

        conn = ldap3.Connection(
            ldap3.Server("127.0.0.1", port=self.port, get_info=ldap3.NONE),
            ROOT_DN, ROOT_PASSWORD, auto_bind=ldap3.AUTO_BIND_NO_TLS, raise_exceptions=True,
        )
        try:
            for dn, attributes in _entries():
                conn.add(dn, attributes=attributes)
        finally:
            conn.unbind()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _person(uid: str, cn: str, sn: str, employee_type: str, **extra: str) -> dict[str, object]:
    return {
        "objectClass": ["inetOrgPerson"],
        "uid": uid,
        "cn": cn,
        "sn": sn,
        "employeeType": employee_type,
        "userPassword": ssha(PASSWORDS[uid]),
        **extra,
    }


def _entries() -> list[tuple[str, dict[str, object]]]:
    def ou(name: str) -> tuple[str, dict[str, object]]:
        return f"ou={name},{SUFFIX}", {"objectClass": ["organizationalUnit"], "ou": name}

    return [
        (SUFFIX, {"objectClass": ["dcObject", "organization"], "dc": "example", "o": "Example"}),
        (READER_DN, {
            "objectClass": ["organizationalRole", "simpleSecurityObject"],
            "cn": "reader", "userPassword": ssha(READER_PASSWORD),
        }),
        ou("people"), ou("others"), ou("hidden"), ou("groups"),
        (DNS["alice"], _person("alice", "Alice Liddell", "Liddell", "staff",
                               displayName="Alice L.", mail="alice@example.org")),
        (DNS["bob"], _person("bob", "Bob Builder", "Builder", "contractor", mail="bob@example.org")),
        (DNS["carol"], _person("carol", "Carol Danvers", "Danvers", "staff")),
        (DNS["dan"], _person("dan", "Dan, Jr. (ops)", "Jr", "staff", mail="dan@example.org")),
        (DNS["star*"], _person("star*", "Star", "Star", "staff")),
        (DNS["twin"], _person("twin", "Twin One", "One", "staff")),
        (f"uid=twin,ou=others,{SUFFIX}", _person("twin", "Twin Two", "Two", "staff")),
        (DNS["hank"], _person("hank", "Hank Hidden", "Hidden", "staff")),
        (DEVS, {"objectClass": ["groupOfNames"], "cn": "devs", "member": [DNS["alice"], DNS["hank"]]}),
        (OPS, {"objectClass": ["groupOfNames"], "cn": "ops", "member": [DNS["bob"], DNS["dan"]]}),
    ]
