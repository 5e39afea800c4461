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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boxwright.errors import DefinitionError
from boxwright.schema import load_table, option

if TYPE_CHECKING:
    from boxwright.image.definition import ImageDefinition

__all__ = [
    "PREFIX_LOG", "SERVICES", "Service", "ServiceOptions", "Services", "SyslogOptions",
    "load_services", "service_plan",
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
        "links": [{"target": t, "path": p} for t, p in links],
        "link_dirs": sorted({p.rsplit("/", 1)[0] for _, p in links}),
    }
