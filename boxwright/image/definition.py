"""Image definitions: ``images/<name>/image.toml`` loaded into typed objects.

The folder name is the image's identity.  A definition may ``extends`` another
one: its tables are merged over the parent's and its ``rootfs/`` is layered
over the parent's, so a variant (another suite, one service less) is a few
lines of data and no template edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boxwright import paths
from boxwright.errors import DefinitionError
from boxwright.image.services import SERVICES, Services, load_services
from boxwright.platforms import PLATFORMS, Platform, host_platform
from boxwright.schema import (
    check_image_reference,
    check_mirror,
    check_name,
    check_packages,
    load_table,
    option,
    read_toml,
    version_check,
)

__all__ = [
    "DEBIAN_SUITES",
    "Bootstrap",
    "Healthcheck",
    "ImageDefinition",
    "image_names",
    "load_image",
]


DEBIAN_SUITES = (
    "bullseye", "bookworm", "trixie", "forky", "sid",
    "oldstable", "stable", "testing", "unstable",
)
MMDEBSTRAP_VARIANTS = ("extract", "custom", "essential", "apt", "minbase", "buildd",
                       "required", "important", "standard")

#: The HEALTHCHECK's command, shipped in images/baseimage/rootfs/.
HEALTH_TOOL = "/usr/local/bin/service-status"

_check_version = version_check(3)


def _check_directories(value: dict[str, str]) -> str | None:
    for path, mode in value.items():
        if not path.startswith("/") or not re.match(r"^0[0-7]{3}$", mode):
            return f"expected absolute paths with octal modes like '0755'; got {path!r} = {mode!r}"
    return None


def _check_platforms(value: tuple[str, ...]) -> str | None:
    accepted = ", ".join(PLATFORMS)
    if not value:
        return f"expected at least one of {accepted}"
    for name in value:
        if name not in PLATFORMS:
            return f"unknown platform {name!r}; accepted: {accepted}"
    if len(set(value)) != len(value):
        return "a platform is listed twice"
    return None


@dataclass(frozen=True)
class Bootstrap:
    """How to make the hermetic base with mmdebstrap (no registry needed)."""

    suite: str = option(choices=DEBIAN_SUITES)
    mirror: str = option("http://deb.debian.org/debian", check=check_mirror)
    variant: str = option("minbase", choices=MMDEBSTRAP_VARIANTS)
    packages: tuple[str, ...] = option(factory=tuple, check=check_packages)


def _check_seconds(value: float) -> str | None:
    return None if value > 0 else f"expected a number of seconds > 0; got {value!r}"


@dataclass(frozen=True)
class Healthcheck:
    """The image's HEALTHCHECK: ``service-status --health`` (README.md, health section).

    Docker runs it every ``interval`` seconds; ``retries`` failures in a row make the container
    unhealthy (failures within ``start_period`` after the start do not count). The command
    ends by itself before ``timeout``: it gets ``timeout`` minus a second (at least half of it).
    """

    #: None: on when a layer ships the tool (``rootfs/usr/local/bin/service-status``).
    enabled: bool | None = option(None)
    interval: float = option(5.0, check=_check_seconds)
    timeout: float = option(3.0, check=_check_seconds)
    start_period: float = option(20.0, check=lambda v: None if v >= 0 else f"expected >= 0; got {v!r}")
    retries: int = option(2, check=lambda v: None if v >= 1 else f"expected at least 1; got {v!r}")

    @property
    def command_timeout(self) -> float:
        """The tool's own deadline, inside Docker's: Docker 20.10 leaves a timed-out check running."""
        return round(max(self.timeout - 1.0, self.timeout / 2), 3)


@dataclass(frozen=True)
class ImageDefinition:
    """One image: its base, what goes in, which services are on, its labels."""

    version: str = option(check=_check_version)
    description: str = option("")
    #: What to build for (Docker platform names); default: the host's own only.
    platforms: tuple[str, ...] = option((host_platform().name,), check=_check_platforms)
    extends: str | None = option(None)
    bootstrap: Bootstrap | None = option(None)
    from_image: str | None = option(None, key="from", check=check_image_reference)
    packages: tuple[str, ...] = option(factory=tuple, check=check_packages)
    #: Parsed from the rows of ``services.SERVICES`` by :func:`load_image`.
    services: Services = field(default_factory=Services, init=False)
    env: dict[str, str] = option(factory=dict)
    #: Directories made at build time, path -> octal mode (empty ones: git records none).
    directories: dict[str, str] = option(factory=dict, check=_check_directories)
    command: tuple[str, ...] = option(("/bin/bash",))
    healthcheck: Healthcheck = option(factory=Healthcheck)
    labels: dict[str, str] = option(factory=dict)
    #: Filled by :func:`load_image`, not by the TOML.
    name: str = field(default="", init=False)
    path: Path = field(default=Path(), init=False)
    #: The definition folders this one is made of, parents first (``extends``).
    layers: tuple[Path, ...] = field(default=(), init=False)

    def service_available(self, service: str) -> bool:
        """A layer ships the service's files (``services/<name>/``): it can be turned on."""
        return any((layer / "services" / service).is_dir() for layer in self.layers)

    def service_enabled(self, service: str) -> bool:
        """An available service is as the definition says, else as its row says (or follows)."""
        if not self.service_available(service):
            return False
        enabled = self.services[service].enabled
        if enabled is not None:
            return enabled
        row = SERVICES[service]
        return self.service_enabled(row.follows) if row.follows else row.default

    def service_prefixed(self, service: str) -> bool:
        """Whether the service's output gets ``[name] `` in ``docker logs``."""
        prefix = self.services[service].prefix
        return self.services.prefix if prefix is None else prefix

    @property
    def healthcheck_enabled(self) -> bool:
        """The HEALTHCHECK is on unless turned off, when the image ships service-status."""
        enabled = self.healthcheck.enabled
        return self._ships_health_tool() if enabled is None else enabled

    def _ships_health_tool(self) -> bool:
        return any((layer / "rootfs" / HEALTH_TOOL.lstrip("/")).is_file() for layer in self.layers)

    @property
    def targets(self) -> tuple[Platform, ...]:
        """The platforms to build, host first (its image is the one tagged ``:latest``)."""
        chosen = [PLATFORMS[name] for name in self.platforms]
        return tuple(sorted(chosen, key=lambda p: (not p.is_host, p.name)))

    @property
    def suite(self) -> str | None:
        return self.bootstrap.suite if self.bootstrap else None

    @property
    def rootfs(self) -> tuple[Path, ...]:
        """The trees to copy into the image, later layers winning.

        Each layer gives its ``rootfs/`` and then ``services/<name>/`` for every bundled
        service the definition turns on: a service turned off ships none of its files.
        """
        enabled = [name for name in SERVICES if self.service_enabled(name)]
        trees = []
        for layer in self.layers:
            trees += [layer / "rootfs", *(layer / "services" / name for name in enabled)]
        return tuple(tree for tree in trees if tree.is_dir())

    @property
    def local_packages(self) -> tuple[Path, ...]:
        """Package trees (``local-packages/<name>/DEBIAN/control``) built with dpkg-deb."""
        found = {}
        for layer in self.layers:
            for control in sorted(layer.glob("local-packages/*/DEBIAN/control")):
                found[control.parent.parent.name] = control.parent.parent
        return tuple(found[name] for name in sorted(found))


def image_names(images_dir: Path | None = None) -> list[str]:
    """Every definition under ``images_dir`` (default: :func:`boxwright.paths.images_dir`), sorted."""
    images_dir = images_dir or paths.images_dir()
    return sorted(p.parent.name for p in images_dir.glob("*/image.toml"))


def load_image(name: str, images_dir: Path | None = None) -> ImageDefinition:
    """Load and validate ``images_dir/name/image.toml`` (following ``extends``)."""
    images_dir = images_dir or paths.images_dir()
    table, layers, path = _merged_table(name, images_dir, chain=())
    services = load_services(table.pop("services", {}), path)
    definition = load_table(ImageDefinition, table, path)
    object.__setattr__(definition, "services", services)
    if (definition.bootstrap is None) == (definition.from_image is None):
        raise DefinitionError(path, "bootstrap", "set exactly one of 'bootstrap' or 'from'")
    object.__setattr__(definition, "name", name)
    object.__setattr__(definition, "path", path)
    object.__setattr__(definition, "layers", layers)
    _check_services(definition, path)
    if definition.healthcheck.enabled and not definition._ships_health_tool():
        raise DefinitionError(path, "healthcheck.enabled",
                              f"turned on, but no layer ships {HEALTH_TOOL} (rootfs/)")
    return definition


def _check_services(definition: ImageDefinition, path: Path) -> None:
    for name, row in SERVICES.items():
        if not definition.services[name].enabled:
            continue
        needs = row.follows or row.needs
        if needs and not definition.service_enabled(needs):
            raise DefinitionError(
                path, f"services.{name}",
                f"{name} runs from {needs}: turn {needs} on or {name} off",
            )
        if not definition.service_available(name):
            folders = " or ".join(f"{layer.name}/services/{name}/" for layer in definition.layers)
            raise DefinitionError(
                path, f"services.{name}", f"turned on, but no definition ships it (no {folders})"
            )


def _merged_table(
    name: str, images_dir: Path, chain: tuple[str, ...]
) -> tuple[dict[str, Any], tuple[Path, ...], Path]:
    path = images_dir / name / "image.toml"
    if problem := check_name(name):
        raise DefinitionError(path, None, f"bad image name: {problem}")
    if name in chain:
        loop = " -> ".join((*chain, name))
        raise DefinitionError(path, "extends", f"definitions extend each other in a loop: {loop}")
    if not path.is_file():
        known = ", ".join(image_names(images_dir)) or "none"
        if chain:
            raise DefinitionError(
                images_dir / chain[-1] / "image.toml", "extends",
                f"no image definition {name!r} (known: {known})",
            )
        raise DefinitionError(path, None, f"no image definition {name!r} (known: {known})")
    table = _service_shorthands(read_toml(path), path)
    parent = table.get("extends")
    if parent is None:
        return table, (path.parent,), path
    if not isinstance(parent, str):
        raise DefinitionError(path, "extends", "expected the name of another image definition")
    base, base_layers, _ = _merged_table(parent, images_dir, (*chain, name))
    return _merge(base, table), (*base_layers, path.parent), path


def _service_shorthands(table: dict[str, Any], path: Path) -> dict[str, Any]:
    """``services.cron = false`` means ``services.cron = { enabled = false }``.

    Expanded per file, before ``extends`` merges, so a child's ``cron = false`` keeps
    the parent's other cron settings.
    """
    services = table.get("services")
    if not isinstance(services, dict):
        return table
    expanded = dict(services)
    for key, value in services.items():
        if key not in SERVICES:
            continue
        if isinstance(value, bool):
            expanded[key] = {"enabled": value}
        elif not isinstance(value, dict):
            raise DefinitionError(
                path, f"services.{key}", f"expected true or false, or a table; got {value!r}"
            )
    return {**table, "services": expanded}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; anything else in ``override`` replaces ``base``."""
    merged = {key: value for key, value in base.items() if key != "extends"}
    if "from" in override:
        merged.pop("bootstrap", None)
    if "bootstrap" in override:
        merged.pop("from", None)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
