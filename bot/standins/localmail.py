"""A throwaway local dovecot IMAP server for the demo, the tests and the benchmark.

Everything lives in one temporary directory: the configuration, a self-signed
certificate for 127.0.0.1, the mail (Maildir) and the logs, so several servers can
run side by side. Dovecot refuses to run its login and mail processes as root: when
started by root they run as `dovenull` and `dovecot`; otherwise everything runs as
the calling user. Only loopback, on free high ports.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient

from bot.errors import PortbotError

USER = "support@example.test"
PASSWORD = "local-demo-password"  # a throwaway server on loopback, gone when it stops


class LocalMailError(PortbotError):
    """The local dovecot could not be started."""


@dataclass(frozen=True)
class LocalMail:
    """A running local server: where it listens and how to log in."""

    root: Path
    host: str
    tls_port: int  # TLS from the first byte
    plain_port: int  # STARTTLS
    ca_file: Path  # the server's self-signed certificate, to trust it
    password_file: Path
    user: str = USER
    password: str = PASSWORD

    def client(self) -> IMAPClient:
        """A logged-in client (for loading mail and for tests)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        client = IMAPClient(
            self.host, port=self.tls_port, ssl=True, ssl_context=context, timeout=30
        )
        client.login(self.user, self.password)
        return client

    def append(self, folder: str, messages: Iterable[bytes]) -> int:
        """APPEND each message to `folder` (created if missing); how many were added."""
        count = 0
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in messages:
                client.append(folder, raw)
                count += 1
        return count


def dovecot_binary() -> str | None:
    sbin = Path("/usr/sbin/dovecot")  # not on a normal user's PATH
    return shutil.which("dovecot") or (str(sbin) if sbin.is_file() else None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _self_signed(root: Path) -> tuple[Path, Path]:
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _accounts() -> tuple[str, str, str, int, int]:
    """(login user, internal user, internal group, mail uid, mail gid) for this process."""
    if os.geteuid() == 0:
        mail = pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")  # raises KeyError when dovecot is not installed properly
        return "dovenull", "dovecot", "dovecot", mail.pw_uid, mail.pw_gid
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, me.pw_name, grp.getgrgid(me.pw_gid).gr_name, me.pw_uid, me.pw_gid


# Only root may chroot: without root the helper processes run unconfined, as the user.
NO_CHROOT = """
service anvil {
  chroot =
}
"""


def _oauth2(root: Path, introspection_url: str) -> str:
    """XOAUTH2 logins checked by GETting introspection_url + token (a test's token server)."""
    (root / "oauth2.conf.ext").write_text(
        f"introspection_mode = get\nintrospection_url = {introspection_url}\n"
        "username_attribute = email\n"
    )
    return f"""
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf.ext
}}
"""


def _config(
    root: Path,
    cert: Path,
    key: Path,
    tls_port: int,
    plain_port: int,
    oauth2_introspection_url: str | None,
    capabilities: str | None = None,
) -> str:
    login_user, internal_user, internal_group, uid, gid = _accounts()
    dh = Path("/usr/share/dovecot/dh.pem")
    capability_line = f"\n  imap_capability = {capabilities}" if capabilities else ""
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
{f"ssl_dh = <{dh}" if dh.is_file() else ""}
disable_plaintext_auth = yes
auth_mechanisms = plain login{" xoauth2 oauthbearer" if oauth2_introspection_url else ""}
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{root}/mail/%n
namespace inbox {{
  inbox = yes
  separator = /
}}
{_oauth2(root, oauth2_introspection_url) if oauth2_introspection_url else ""}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%n
}}
{"" if os.geteuid() == 0 else NO_CHROOT}
service imap-login {{
  {"" if os.geteuid() == 0 else "chroot ="}
  inet_listener imap {{
    address = 127.0.0.1
    port = {plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200{capability_line}
}}
"""


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    text = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
    raise LocalMailError(f"dovecot did not start on port {port}: {text or 'no log'}")


@contextmanager
def local_dovecot(
    root: Path | None = None,
    *,
    oauth2_introspection_url: str | None = None,
    capabilities: str | None = None,
) -> Iterator[LocalMail]:
    """Start a dovecot in `root` (a new temporary directory by default); stop it after.

    With oauth2_introspection_url, XOAUTH2 logins are accepted too: dovecot GETs
    that URL with the token appended and takes the user from the answer's "email".
    `capabilities`: what it announces after login instead of its own list (a server
    without IDLE, say).
    """
    binary = dovecot_binary()
    if binary is None:
        raise LocalMailError("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    owned = root is None
    base = Path(tempfile.mkdtemp(prefix="portbot-dovecot-")) if root is None else root
    process: subprocess.Popen[bytes] | None = None
    try:
        base.chmod(0o755)  # the login and mail processes run as other users
        *_, uid, gid = _accounts()
        (base / "mail").mkdir(exist_ok=True)
        os.chown(base / "mail", uid, gid)
        cert, key = _self_signed(base)
        (base / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        password_file = base / "imap-password"
        password_file.write_text(PASSWORD + "\n")
        password_file.chmod(0o600)
        tls_port, plain_port = _free_port(), _free_port()
        conf = base / "dovecot.conf"
        conf.write_text(
            _config(base, cert, key, tls_port, plain_port, oauth2_introspection_url, capabilities)
        )
        with open(base / "stderr.log", "wb") as stderr:
            process = subprocess.Popen(
                [binary, "-F", "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        _wait_listening(tls_port, process, base / "dovecot.log", 20.0)
        _wait_listening(plain_port, process, base / "dovecot.log", 5.0)
        yield LocalMail(
            root=base,
            host="127.0.0.1",
            tls_port=tls_port,
            plain_port=plain_port,
            ca_file=cert,
            password_file=password_file,
        )
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if owned:
            shutil.rmtree(base, ignore_errors=True)
