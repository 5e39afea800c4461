"""The bundled services: ONE table says everything boxwright knows about each of them.

A service's files are ``images/<name>/services/<service>/`` (files at their final paths,
copied only when the definition turns the service on, see ``ImageDefinition.rootfs``).
Its row in :data:`SERVICES` holds the rest: the Debian packages, its runit directory,
whether it is on by default, its options and the symlink each option makes, and paths
that must never ship.  The ``[services]`` table of a definition is parsed from these
rows (:func:`load_services`), so adding a bundled service is a folder and one row.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boxwright.errors import DefinitionError
from boxwright.schema import load_table, option

if TYPE_CHECKING:
    from boxwright.image.definition import ImageDefinition

__all__ = [
    "PREFIX_LOG", "SERVICES", "BackupOptions", "Service", "ServiceOptions", "Services",
    "SyslogOptions", "load_services", "render_service_files", "service_plan",
]

#: The runit log service that prefixes a service's output with ``[name] ``.
PREFIX_LOG = "/usr/local/lib/boxwright/prefix-log"


@dataclass(frozen=True)
class ServiceOptions:
    """One bundled service: ``enabled`` (None: its default), ``prefix`` (None: ``services.prefix``)."""

    enabled: bool | None = option(None)
    prefix: bool | None = option(None)


@dataclass(frozen=True)
class SyslogOptions(ServiceOptions):
    """syslog-ng: where every message goes, ``docker logs`` and/or ``/var/log/syslog``."""

    stdout: bool = option(True)
    file: bool = option(True)


_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,-]+$")
#: duplicity's interval format (``man duplicity``, TIME FORMATS): a count and a unit.
_INTERVAL = re.compile(r"^[1-9][0-9]*[smhDWMY]$")


def _check_paths(value: tuple[str, ...]) -> str | None:
    if not value:
        return "expected at least one absolute path"
    for path in value:
        if not path.startswith("/") or "\n" in path or (path != "/" and path.endswith("/")):
            return f"expected absolute paths like '/data' (no trailing '/'); got {path!r}"
    return None


def _check_patterns(value: tuple[str, ...]) -> str | None:
    for pattern in value:
        if not pattern.startswith(("/", "**")) or "\n" in pattern:
            return f"expected absolute paths or globs like '/data/cache' or '**/.cache'; got {pattern!r}"
    return None


def _check_schedule(value: str) -> str | None:
    fields = value.split()
    if value.startswith("@") and value in ("@hourly", "@daily", "@weekly", "@monthly"):
        return None
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        return f"expected a cron schedule of 5 fields like '0 2 * * *' (or @daily); got {value!r}"
    return None


def _check_interval(value: str) -> str | None:
    ok = _INTERVAL.match(value)
    return None if ok else f"expected an interval like '7D', '1M' or '1Y' (s m h D W M Y); got {value!r}"


def _check_volume(value: int) -> str | None:
    return None if 1 <= value <= 4096 else f"expected megabytes between 1 and 4096; got {value!r}"


#: Never backed up, whatever ``paths`` says (``paths = ["/"]`` is a whole container).
BACKUP_ALWAYS_EXCLUDED = ("/var/cache/duplicity", "/proc", "/sys", "/dev", "/run", "/tmp")


@dataclass(frozen=True)
class BackupOptions(ServiceOptions):
    """duplicity + duply: what is backed up, when, how often a full one, how long sets are kept."""

    paths: tuple[str, ...] = option(("/data",), check=_check_paths)
    exclude: tuple[str, ...] = option(factory=tuple, check=_check_patterns)
    schedule: str = option("0 2 * * *", check=_check_schedule)
    full_every: str = option("1M", check=_check_interval)
    keep: str = option("6M", check=_check_interval)
    volume_mb: int = option(50, check=_check_volume)

    @property
    def excludes(self) -> tuple[str, ...]:
        """duplicity's own cache and the kernel/runtime trees, then the definition's own."""
        return (*BACKUP_ALWAYS_EXCLUDED, *(p for p in self.exclude if p not in BACKUP_ALWAYS_EXCLUDED))


@dataclass(frozen=True)
class Service:
    """One row of the table: what a bundled service needs besides its files."""

    #: Debian packages, in install order.
    packages: tuple[str, ...]
    #: Its runit service directory (None: no daemon, e.g. logrotate runs from cron).
    service_dir: str | None = None
    #: On when the definition does not say.
    default: bool = True
    #: Another service this one runs from: its default follows that one, and it needs it on.
    follows: str | None = None
    #: Another service this one needs on (its default stays ``default``).
    needs: str | None = None
    #: The options table a definition may give (``[services.<name>]``).
    options: type[ServiceOptions] = ServiceOptions
    #: Boolean option -> (symlink target, symlink path) made when the option is true.
    option_links: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: Paths (shell globs) removed right after the install: they must never ship.
    never_ship: tuple[str, ...] = ()
    #: Files made 0600 in the image: git records only 0644/0755, ssh refuses a readable key.
    private: tuple[str, ...] = ()
    #: Directories made 0700 in the image (git records no empty directory).
    private_dirs: tuple[str, ...] = ()
    #: Directory -> the only entries kept in it (the rest removed in the install layer).
    keep_only: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Directories whose Python byte-code (``__pycache__``) is removed in the install layer: the
    #: service's programs compile in memory when they run (a second or two, once per run).
    drop_bytecode: tuple[str, ...] = ()
    #: Files rendered at build time from ``services/<name>/<path>.j2`` with the service's
    #: options (``options`` in the template): settings the definition gives, never secrets.
    templates: tuple[str, ...] = ()


SERVICES: dict[str, Service] = {
    # Started by my_init before the first startup script and stopped after the last
    # post-shutdown hook: /etc/early_service (README.md, my_init section).
    "syslog": Service(
        ("syslog-ng-core",), "/etc/early_service/syslog", options=SyslogOptions,
        # stdout (docker logs) in conf.d/, which a replaced Debian-style syslog-ng.conf includes
        # too; the file is boxwright's syslog-ng.conf's own (Debian's writes /var/log/syslog itself).
        option_links={
            "stdout": ("../boxwright/stdout.conf", "/etc/syslog-ng/conf.d/stdout.conf"),
            "file": ("../boxwright/file.conf", "/etc/syslog-ng/boxwright.d/file.conf"),
        },
    ),
    # cron-daemon-common depends on "systemd | systemd-standalone-sysusers | ...": the
    # standalone one goes first so that apt never picks systemd.
    "cron": Service(("systemd-standalone-sysusers", "cron"), "/etc/service/cron"),
    # Runs daily from cron (/etc/cron.daily/logrotate).
    "logrotate": Service(("logrotate",), follows="cron"),
    # phusion's way: installed and down (/etc/service/sshd/down). openssh-server's postinst makes
    # host keys; they are made at first start (/etc/my_init.d/00_regen_ssh_host_keys.sh) instead.
    "sshd": Service(("openssh-server",), "/etc/service/sshd",
                    never_ship=("/etc/ssh/ssh_host_*",), private=("/etc/insecure_key",),
                    private_dirs=("/root/.ssh",)),
    # Scheduled from cron (/etc/cron.d/backup); secrets come at run time (README.md, backups).
    "backup": Service(("duplicity", "duply", "python3-boto3", "gnupg", "sqlite3"), default=False,
                      needs="cron", options=BackupOptions,
                      templates=("etc/duply/main/conf", "etc/duply/main/exclude", "etc/cron.d/backup"),
                      # botocore ships the API models of all ~400 AWS services (100 MB); S3 is used.
                      keep_only={
                          "/usr/lib/python3/dist-packages/botocore/data": (
                              "s3", "sts", "_retry.json", "endpoints.json", "partitions.json",
                              "sdk-default-configuration.json"),
                          "/usr/lib/python3/dist-packages/boto3/data": ("s3",),
                      },
                      # 12.5 MB of .pyc for a program that runs once a day (README.md, backups).
                      drop_bytecode=("/usr/lib/python3/dist-packages",)),
}


@dataclass(frozen=True)
class Services:
    """The ``[services]`` table: ``prefix`` and one options table per row of :data:`SERVICES`."""

    prefix: bool = False
    options: Mapping[str, ServiceOptions] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ServiceOptions:
        return self.options.get(name) or SERVICES[name].options()

    def __iter__(self) -> Iterator[str]:
        return iter(SERVICES)


def load_services(table: Any, path: Path) -> Services:
    """Parse a definition's ``[services]`` table against the rows of :data:`SERVICES`.

    The schema is made from the table each time, so a new row is a new key with its
    own options, defaults and "did you mean" hints, and no Python elsewhere changes.
    """
    if not isinstance(table, dict):
        raise DefinitionError(path, "services", "expected a table of bundled services")
    schema = dataclasses.make_dataclass(
        "Services",
        [("prefix", bool, option(False)),
         *((name, row.options, option(factory=row.options)) for name, row in SERVICES.items())],
        frozen=True,
    )
    loaded: Any = load_table(schema, table, path, "services.")
    return Services(loaded.prefix, {name: getattr(loaded, name) for name in SERVICES})


def service_plan(definition: ImageDefinition) -> dict[str, Any]:
    """What the template needs about services: enabled names, packages, cleanups, links."""
    enabled = [name for name in SERVICES if definition.service_enabled(name)]
    packages: list[str] = []
    for name in enabled:
        packages += [p for p in SERVICES[name].packages if p not in packages]
    links: list[tuple[str, str]] = []
    for name in enabled:
        options = definition.services[name]
        links += [link for key, link in SERVICES[name].option_links.items() if getattr(options, key)]
    for name in enabled:
        directory = SERVICES[name].service_dir
        if directory and definition.service_prefixed(name):
            links.append((PREFIX_LOG, f"{directory}/log/run"))
    return {
        "enabled": enabled,
        "packages": packages,
        "never_ship": [glob for name in enabled for glob in SERVICES[name].never_ship],
        "private": [path for name in enabled for path in SERVICES[name].private],
        "private_dirs": [path for name in enabled for path in SERVICES[name].private_dirs],
        "drop_bytecode": [path for name in enabled for path in SERVICES[name].drop_bytecode],
        "keep_only": [{"dir": directory, "names": list(names)}
                      for name in enabled for directory, names in SERVICES[name].keep_only.items()],
        "links": [{"target": t, "path": p} for t, p in links],
        "link_dirs": sorted({p.rsplit("/", 1)[0] for _, p in links}),
    }


def render_service_files(definition: ImageDefinition, rootfs: Path, mtime: int) -> None:
    """Render each enabled service's ``templates`` into ``rootfs`` (a copied build context).

    The ``.j2`` sources were copied with the service's files; each is replaced by its
    rendering, so the image holds the result only.
    """
    from boxwright.render import render_template

    for name in (n for n in SERVICES if definition.service_enabled(n)):
        for relative in SERVICES[name].templates:
            layer = next((layer for layer in reversed(definition.layers)
                          if (layer / "services" / name / f"{relative}.j2").is_file()), None)
            if layer is None:
                raise DefinitionError(definition.path, f"services.{name}",
                                      f"no template services/{name}/{relative}.j2 in any layer")
            text = render_template(f"{relative}.j2", {"options": definition.services[name], "service": name},
                                   layer / "services" / name)
            target = rootfs / relative
            (rootfs / f"{relative}.j2").unlink(missing_ok=True)
            target.write_text(text)
            os.utime(target, (mtime, mtime))
