"""The frozen-process report names syscalls on both architectures, by the kernel's own numbering."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

#: The kernel's syscall numbers as linux-libc-dev installs them (./kit installs it for the tests).
HEADERS = {
    "x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    "aarch64": Path("/usr/include/asm-generic/unistd.h"),  # arm64 uses the generic table
}


def kernel_numbers(header: Path) -> dict[str, int]:
    found = re.findall(r"^#define __NR(?:3264)?_(\w+)\s+(\d+)\s*$", header.read_text(), re.MULTILINE)
    return {name: int(number) for name, number in found}


@pytest.mark.parametrize("machine", sorted(HEADERS))
def test_each_table_matches_the_kernel_headers(my_init, machine):
    numbers = kernel_numbers(HEADERS[machine])
    table = my_init.SYSCALLS[machine]
    assert len(table) >= 15
    for number, name in table.items():
        assert numbers.get(name) == number, f"{machine}: {name} is {numbers.get(name)}, not {number}"


@pytest.mark.parametrize(("machine", "number"), [("x86_64", 202), ("aarch64", 98)])
def test_the_report_names_futex_by_the_kernels_architecture(my_init, monkeypatch, machine, number):
    monkeypatch.setattr(my_init, "kernel_machine", lambda: machine)
    reads = {"stat": b"7 (x) S 1", "wchan": b"futex_wait_queue", "syscall": f"{number} 0x0 0x80".encode(),
             "cmdline": b"stubborn\0--flag\0"}
    monkeypatch.setattr(my_init, "_read_proc", lambda pid, name: reads[name])
    assert my_init.describe_process(7) == (
        f"pid 7 state S wchan futex_wait_queue syscall {number} (futex) cmdline 'stubborn --flag'"
    )


def test_an_unknown_number_stays_a_number(my_init, monkeypatch):
    monkeypatch.setattr(my_init, "kernel_machine", lambda: "aarch64")
    reads = {"syscall": b"333 0x0"}
    monkeypatch.setattr(my_init, "_read_proc", lambda pid, name: reads.get(name, b"1 (x) S"))
    assert " syscall 333 cmdline " in my_init.describe_process(7)


def test_the_kernels_machine_is_read_from_proc(my_init):
    """Not uname: under QEMU user emulation uname says aarch64 while the kernel numbers x86_64."""
    assert my_init.kernel_machine() == Path("/proc/sys/kernel/arch").read_text().strip()
