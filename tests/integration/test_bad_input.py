"""Bad input of every kind: one clear line naming what and where, a non-zero exit, no traceback."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest
from conftest import RunCli, StartLab
from helpers import DRIVERS, closed_port, copy_lab_inventory, lab_inventory_path, one_line_error


def site_problem(cli: RunCli, inventory: Path) -> tuple[int, str]:
    result = cli("-i", str(inventory), "status", "--json")
    assert "Traceback" not in result.stderr
    site = json.loads(result.stdout)["sites"][0]
    assert site["state"] == "unknown"
    (problem,) = site["problems"]
    return result.returncode, problem


def test_missing_inventory(cli: RunCli, tmp_path: Path) -> None:
    result = cli("-i", str(tmp_path / "none.yaml"), "status")
    assert result.returncode == 2
    one_line_error(result, "none.yaml", "inventory not found")


def test_invalid_inventory_names_the_key(cli: RunCli, tmp_path: Path) -> None:
    bad = tmp_path / "inv.yaml"
    bad.write_text(
        "sites:\n  tokyo:\n    device: {host: h, username: u, password: hunter2}\n"
        "    tunnel: {name: t, wan_address: 10.0.0.1, psk: 'env:X'}\n"
        "    cloud: {version: 2, global_address: 27.133.132.134}\n"
    )
    result = cli("-i", str(bad), "status")
    assert result.returncode == 2
    one_line_error(result, str(bad), "sites.tokyo.device.password", "secret reference")
    assert "hunter2" not in result.stderr


def test_unknown_site(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab()
    result = cli("-i", str(lab_inventory_path(lab)), "status", "osaka")
    assert result.returncode == 2
    one_line_error(result, "unknown site 'osaka'", "tokyo")


def test_unresolvable_secret_reference(start_lab: StartLab, cli: RunCli, tmp_path: Path) -> None:
    inventory = copy_lab_inventory(start_lab(), tmp_path, password="env:FITELCTL_NOT_SET")
    code, problem = site_problem(cli, inventory)
    assert code == 3 and "FITELCTL_NOT_SET is not set" in problem


@pytest.mark.parametrize("driver", DRIVERS)
def test_wrong_ssh_password(start_lab: StartLab, cli: RunCli, tmp_path: Path, driver: str) -> None:
    inventory = copy_lab_inventory(start_lab(), tmp_path, driver=driver)
    (tmp_path / "secrets" / "tokyo.password").write_text("not-the-password\n")
    code, problem = site_problem(cli, inventory)
    assert code == 3 and "tokyo (127.0.0.1:" in problem and "login" in problem
    assert "not-the-password" not in problem


@pytest.mark.parametrize("driver", DRIVERS)
def test_wrong_enable_password(
    start_lab: StartLab, cli: RunCli, tmp_path: Path, driver: str
) -> None:
    inventory = copy_lab_inventory(start_lab(), tmp_path, driver=driver)
    (tmp_path / "secrets" / "tokyo.enable").write_text("not-the-enable\n")
    code, problem = site_problem(cli, inventory)
    assert code == 3 and "enable password" in problem
    assert "not-the-enable" not in problem


@pytest.mark.parametrize("driver", DRIVERS)
def test_unreachable_host(start_lab: StartLab, cli: RunCli, tmp_path: Path, driver: str) -> None:
    port = closed_port()
    inventory = copy_lab_inventory(
        start_lab(), tmp_path, driver=driver, port=port, connect_timeout=3
    )
    code, problem = site_problem(cli, inventory)
    assert code == 3 and f"127.0.0.1:{port}" in problem


@pytest.mark.parametrize("driver", DRIVERS)
def test_changed_host_key(start_lab: StartLab, cli: RunCli, tmp_path: Path, driver: str) -> None:
    lab = start_lab()
    inventory = copy_lab_inventory(lab, tmp_path, driver=driver)
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    port = lab.sites["tokyo"].server.port
    (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{port} {other[0]} {other[1]}\n")
    code, problem = site_problem(cli, inventory)
    assert code == 3 and "CHANGED" in problem and "SHA256:" in problem


@pytest.mark.parametrize("driver", DRIVERS)
def test_unknown_host_key_then_explicit_trust(
    start_lab: StartLab, cli: RunCli, tmp_path: Path, driver: str
) -> None:
    inventory = copy_lab_inventory(start_lab(), tmp_path, driver=driver)
    (tmp_path / "known_hosts").write_text("")
    code, problem = site_problem(cli, inventory)
    assert code == 3 and "unknown SSH host key" in problem and "SHA256:" in problem
    assert "--trust-new-host-key" in problem
    result = cli("-i", str(inventory), "status", "--json", "--trust-new-host-key")
    assert result.returncode == 0
    assert "127.0.0.1" in (tmp_path / "known_hosts").read_text()
    assert cli("-i", str(inventory), "status", "--json").returncode == 0


def test_output_no_template_matches(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab()
    lab.world.show_crypto_sa = lambda site: "\n  Crypto engine busy, try later\n"  # type: ignore[method-assign]
    code, problem = site_problem(cli, lab_inventory_path(lab))
    assert code == 3 and "show crypto sa" in problem


@pytest.fixture
def not_a_fitelnet(tmp_path: Path) -> Iterator[int]:
    """An SSH server with a Unix-like shell prompt: not what a FITELnet device shows."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    port: list[int] = []

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return False

    async def shell(process: asyncssh.SSHServerProcess) -> None:  # type: ignore[type-arg]
        process.stdout.write("Welcome to host\r\nuser@host:~$ ")
        await process.stdin.read()

    async def main() -> asyncssh.SSHAcceptor:
        key = asyncssh.generate_private_key("ssh-ed25519")
        acceptor = await asyncssh.create_server(
            Server, "127.0.0.1", 0, server_host_keys=[key], process_factory=shell
        )
        port.append(acceptor.sockets[0].getsockname()[1])
        key.write_public_key(str(tmp_path / "odd.pub"))
        started.set()
        return acceptor

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    acceptor = asyncio.run_coroutine_threadsafe(main(), loop).result(timeout=30)
    started.wait(30)
    yield port[0]

    async def stop() -> None:
        """Close the server and finish every task of its sessions: a task left pending
        is destroyed later, and asyncio then logs "Task was destroyed but it is pending!"
        on stderr, in whichever test of this worker runs at that moment."""
        acceptor.close()
        await acceptor.wait_closed()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.mark.parametrize("driver", DRIVERS)
def test_unexpected_prompt(
    start_lab: StartLab, cli: RunCli, tmp_path: Path, not_a_fitelnet: int, driver: str
) -> None:
    inventory = copy_lab_inventory(
        start_lab(),
        tmp_path,
        port=not_a_fitelnet,
        driver=driver,
        connect_timeout=1,  # its prompt is there at once: the wait for ours is the timeout
        command_timeout=1,
    )
    key = (tmp_path / "odd.pub").read_text().split()
    (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{not_a_fitelnet} {key[0]} {key[1]}\n")
    code, problem = site_problem(cli, inventory)
    assert code == 3 and f"127.0.0.1:{not_a_fitelnet}" in problem
