"""deploy/nginx.conf made to run on one machine as an ordinary user, in front of a local
gunicorn and Daphne: for tests/test_deploy.py and bench/reads.py, so that both run the
file an operator copies, with only what the operator replaces replaced."""

import getpass
import os
import resource
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "nginx.conf"
OPEN_FILES = 70000  # its worker_rlimit_nofile


def nginx_binary() -> str | None:
    # Debian puts it in /usr/sbin, which an ordinary user's PATH may not have.
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
    )


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, valid for an hour, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def nginx_config(
    directory: Path,
    *,
    http_port: int,
    https_port: int | None,
    gunicorn_port: int,
    daphne_ports: Sequence[int],
    media_root: Path | None = None,
    workers: int | None = None,
) -> Path:
    """deploy/nginx.conf with the ports, a self-signed certificate, and the paths of a
    system install (pid, logs, cache and temporary files go in `directory`, /media/ from
    media_root if given, and the workers run as this user). With https_port None, the site
    is served over plain HTTP on http_port (make cluster), with no redirect to HTTPS and no
    limit of connections per address (every reader on this machine is 127.0.0.1).
    workers: that many worker processes instead of one per core, each taking an even share
    of the connections (reuseport), for a crowd that one per core cannot hold under this
    machine's limit of open files per process (bench/cluster.py). Raises ValueError if the
    file no longer has one of them."""
    cert, key = self_signed_certificate(directory)
    config = CONFIG.read_text()
    temp_paths = "".join(
        f"\n    {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    replacements = {
        "user www-data;": f"user {getpass.getuser()};",
        "pid /run/nginx.pid;": f"pid {directory / 'nginx.pid'};",
        "/var/log/nginx/": f"{directory}/",
        "\nhttp {": "\nhttp {" + temp_paths,
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "/etc/letsencrypt/live/live.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/live.example.com/privkey.pem": str(key),
        "server 127.0.0.1:8001;": f"server 127.0.0.1:{gunicorn_port};",
        "server 127.0.0.1:8101 max_fails=0;": "\n".join(
            f"server 127.0.0.1:{port} max_fails=0;" for port in daphne_ports
        ),
        "server 127.0.0.1:8102 max_fails=0;": "",
        "server_name live.example.com;": "server_name 127.0.0.1;",
        "/var/cache/nginx/liveblog": str(directory / "cache"),
    }
    if https_port is None:
        # The redirect's server on a socket no one asks; the site itself on http_port.
        replacements["listen 80;"] = f"listen unix:{directory / 'unused.sock'};"
        replacements["listen 443 ssl http2;"] = f"listen 127.0.0.1:{http_port};"
        # The port too, which a browser's Origin names on a port other than 80 or 443.
        replacements["proxy_set_header Host $host;"] = "proxy_set_header Host $http_host;"
        # Every reader of a cluster on one machine comes from 127.0.0.1.
        replacements["limit_conn per_address 500;"] = "limit_conn per_address 60000;"
    if workers is not None:
        replacements["worker_processes auto;"] = f"worker_processes {workers};"
        listen = replacements["listen 443 ssl http2;"]
        replacements["listen 443 ssl http2;"] = listen.replace(";", " reuseport;", 1)
    # Without the privilege to raise it (a container's root may lack it), nginx keeps the
    # limit it was started with and logs an alert per worker.
    hard_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard_limit < OPEN_FILES:
        replacements[f"worker_rlimit_nofile {OPEN_FILES};"] = f"worker_rlimit_nofile {hard_limit};"
    if media_root is not None:
        replacements["alias /srv/liveblog/media/;"] = f"alias {media_root}/;"
    for old, new in replacements.items():
        if old not in config:
            raise ValueError(f"deploy/nginx.conf no longer has {old!r}: update {__file__}")
        config = config.replace(old, new)
    path = directory / "nginx.conf"
    path.write_text(config)
    return path
