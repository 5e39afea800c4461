"""The bundled services: what each one installs, where it lives, what its options switch on.

A service's files are ``images/<name>/services/<service>/`` (files at their final paths,
copied only when the definition turns the service on, see ``ImageDefinition.rootfs``).
This module holds the rest, as data the Dockerfile template lays out: the Debian
packages, paths that must never ship (removed in the layer that created them) and
the symlinks that turn an option on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boxwright.image.definition import BUNDLED_SERVICES, ImageDefinition

__all__ = ["SERVICES", "Service", "service_plan"]

#: The runit log service that prefixes a service's output with ``[name] ``.
PREFIX_LOG = "/usr/local/lib/boxwright/prefix-log"


@dataclass(frozen=True)
class Service:
    """What one bundled service needs besides its files."""

    #: Debian packages, in install order.
    packages: tuple[str, ...]
    #: Its runit service directory (None: no daemon, e.g. logrotate runs from cron).
    service_dir: str | None = None
    #: Paths (shell globs) removed right after the install: they must never ship.
    never_ship: tuple[str, ...] = ()
    #: Files made 0600 in the image: git records only 0644/0755, ssh refuses a readable key.
    private: tuple[str, ...] = ()


SERVICES: dict[str, Service] = {
    # Started by my_init before the first startup script and stopped after the last
    # post-shutdown hook: /etc/early_service (README.md, my_init section).
    "syslog": Service(("syslog-ng-core",), "/etc/early_service/syslog"),
    # cron-daemon-common depends on "systemd | systemd-standalone-sysusers | ...": the
    # standalone one goes first so that apt never picks systemd.
    "cron": Service(("systemd-standalone-sysusers", "cron"), "/etc/service/cron"),
    "logrotate": Service(("logrotate",)),
    # openssh-server's postinst makes host keys; they are made at first start instead.
    "sshd": Service(("openssh-server",), "/etc/service/sshd", ("/etc/ssh/ssh_host_*",),
                    private=("/etc/insecure_key",)),
}
assert tuple(SERVICES) == BUNDLED_SERVICES


def service_plan(definition: ImageDefinition) -> dict[str, Any]:
    """What the template needs about services: enabled names, packages, cleanups, links."""
    enabled = [name for name in BUNDLED_SERVICES if definition.service_enabled(name)]
    packages: list[str] = []
    for name in enabled:
        packages += [p for p in SERVICES[name].packages if p not in packages]
    links: list[tuple[str, str]] = []
    if "syslog" in enabled:
        syslog = definition.services.syslog
        for output, wanted in (("stdout", syslog.stdout), ("file", syslog.file)):
            if wanted:
                links.append((f"../boxwright/{output}.conf", f"/etc/syslog-ng/conf.d/{output}.conf"))
    for name in enabled:
        directory = SERVICES[name].service_dir
        if directory and definition.service_prefixed(name):
            links.append((PREFIX_LOG, f"{directory}/log/run"))
    return {
        "enabled": enabled,
        "packages": packages,
        "never_ship": [glob for name in enabled for glob in SERVICES[name].never_ship],
        "private": [path for name in enabled for path in SERVICES[name].private],
        "links": [{"target": t, "path": p} for t, p in links],
        "link_dirs": sorted({p.rsplit("/", 1)[0] for _, p in links}),
    }
