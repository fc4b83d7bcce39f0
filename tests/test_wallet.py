"""Wallets on disk and the ``subnet wallet`` commands: files and modes, encryption, wrong passwords, restores."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from nacl.pwhash import argon2id

from subnet.cli import main
from subnet.errors import KeyfileExistsError, KeyfileNotFoundError, WalletError, WrongPasswordError
from subnet.keyfile import KDF_PRESETS, kdf_from_env, read_info
from subnet.keys import Keypair
from subnet.wallet import Wallet, list_wallets

FAST = KDF_PRESETS["fast"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Non-interactive CLI: wallets under tmp_path, password from the environment, fast KDF (explicitly)."""
    root = tmp_path / "wallets"
    monkeypatch.setenv("SUBNET_WALLET_PATH", str(root))
    monkeypatch.setenv("SUBNET_WALLET_PASSWORD", "correct horse")
    monkeypatch.setenv("SUBNET_KDF", "fast")
    for var in ("SUBNET_WALLET_NAME", "SUBNET_WALLET_HOTKEY"):
        monkeypatch.delenv(var, raising=False)
    return root


def test_files_and_modes(tmp_path: Path) -> None:
    wallet = Wallet("w1", "hk", root=tmp_path / "root")
    cold, cold_words = wallet.create_coldkey("pw", kdf=FAST)
    hot, _ = wallet.create_hotkey(kdf=FAST)
    for path in (wallet.coldkey_path, wallet.coldkeypub_path, wallet.hotkey_path()):
        assert mode(path) == 0o600, path
    for path in (wallet.path, wallet.hotkeys_dir):
        assert mode(path) == 0o700, path
    # Nothing secret is readable in the coldkey file; the public fields are.
    text = wallet.coldkey_path.read_text()
    assert cold.seed.hex() not in text and cold_words.split()[0] + " " + cold_words.split()[1] not in text
    assert cold.ss58_address in text
    assert wallet.coldkey_ss58() == cold.ss58_address
    # The hotkey is plain by default, so a miner can start unattended.
    assert json.loads(wallet.hotkey_path().read_text())["encrypted"] is False
    assert wallet.load_hotkey() == hot
    assert wallet.hotkey_names() == ["hk"]
    assert [w.name for w in list_wallets(tmp_path / "root")] == ["w1"]


def test_wrong_password_is_a_named_error(tmp_path: Path) -> None:
    wallet = Wallet("w", root=tmp_path)
    cold, _ = wallet.create_coldkey("right", kdf=FAST)
    assert wallet.load_coldkey("right") == cold
    with pytest.raises(WrongPasswordError, match="wrong password"):
        wallet.load_coldkey("wrong")
    hot = Keypair.generate()
    wallet.write_hotkey(hot, "hotpw", kdf=FAST)
    assert wallet.load_hotkey("hotpw") == hot
    with pytest.raises(WalletError, match="encrypted"):
        wallet.load_hotkey()
    with pytest.raises(WrongPasswordError):
        wallet.load_hotkey("nope")
    assert read_info(wallet.hotkey_path()).encrypted


def test_mnemonic_and_seed_round_trip(tmp_path: Path) -> None:
    original = Wallet("orig", root=tmp_path)
    cold, words = original.create_coldkey("pw", kdf=FAST)
    restored = Wallet("copy", root=tmp_path)
    assert restored.regen_coldkey("other-pw", mnemonic="  " + words.upper() + " ", kdf=FAST) == cold
    assert restored.load_coldkey("other-pw") == cold
    assert restored.coldkey_ss58() == cold.ss58_address
    hot = restored.regen_hotkey(seed_hex=cold.seed.hex(), hotkey="fromseed")
    assert hot == cold and restored.load_hotkey(hotkey="fromseed") == cold
    with pytest.raises(WalletError, match="exactly one"):
        restored.regen_hotkey(mnemonic=words, seed_hex=cold.seed.hex(), hotkey="x")


def test_never_overwrites_without_being_told(tmp_path: Path) -> None:
    wallet = Wallet("w", root=tmp_path)
    first, _ = wallet.create_coldkey("pw", kdf=FAST)
    with pytest.raises(KeyfileExistsError, match="--overwrite"):
        wallet.create_coldkey("pw", kdf=FAST)
    assert wallet.load_coldkey("pw") == first
    second, _ = wallet.create_coldkey("pw", kdf=FAST, overwrite=True)
    assert wallet.load_coldkey("pw") == second != first


def test_damaged_and_altered_files_are_refused(tmp_path: Path) -> None:
    wallet = Wallet("w", root=tmp_path)
    wallet.create_hotkey()
    doc = json.loads(wallet.hotkey_path().read_text())
    doc["public_key"] = Keypair.generate().public_key.hex()
    wallet.hotkey_path().write_text(json.dumps(doc))
    with pytest.raises(WalletError, match="does not match"):
        wallet.load_hotkey()
    wallet.hotkey_path().write_text("not json")
    with pytest.raises(WalletError, match="regen"):
        wallet.load_hotkey()
    with pytest.raises(KeyfileNotFoundError, match="subnet wallet create"):
        wallet.load_hotkey(hotkey="missing")


def test_default_kdf_is_moderate_and_fast_only_on_request() -> None:
    assert kdf_from_env({}) == KDF_PRESETS["moderate"]
    assert (kdf_from_env({}).opslimit, kdf_from_env({}).memlimit_bytes) == (
        argon2id.OPSLIMIT_MODERATE,
        argon2id.MEMLIMIT_MODERATE,
    )
    assert kdf_from_env({"SUBNET_KDF": "fast"}).opslimit == argon2id.OPSLIMIT_MIN
    with pytest.raises(WalletError, match="SUBNET_KDF"):
        kdf_from_env({"SUBNET_KDF": "turbo"})


@pytest.mark.parametrize("name", ["../escape", ".hidden", "a/b", "", "x" * 65])
def test_unsafe_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(WalletError, match="not allowed"):
        Wallet(name, root=tmp_path)


def test_cli_create_show_list_regen(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wallet", "create", "--wallet.name", "val", "--wallet.hotkey", "hk1", "--no-prompt", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    wallet = Wallet("val", "hk1", root=cli_env)
    assert mode(wallet.coldkey_path) == 0o600 and mode(wallet.path) == 0o700
    assert wallet.load_coldkey("correct horse").ss58_address == created["coldkey"]

    assert main(["wallet", "new-hotkey", "--wallet-name", "val", "--wallet.hotkey", "hk2", "--encrypt"]) == 0
    assert "hk2" in capsys.readouterr().out
    assert main(["w", "show", "--wallet.name", "val", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["coldkey"] == created["coldkey"]
    assert [(h["name"], h["encrypted"]) for h in shown["hotkeys"]] == [("hk1", False), ("hk2", True)]
    assert main(["wallet", "list"]) == 0
    assert created["hotkey"]["ss58_address"] in capsys.readouterr().out

    assert (
        main(
            [
                "wallet",
                "regen",
                "coldkey",
                "--wallet.name",
                "copy",
                "--mnemonic",
                created["coldkey_mnemonic"],
                "--no-prompt",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["ss58_address"] == created["coldkey"]

    assert main(["wallet", "sign", "--wallet.name", "copy", "--message", "hello", "--json"]) == 0
    signed = json.loads(capsys.readouterr().out)
    assert (
        main(
            [
                "wallet",
                "verify",
                "--message",
                "hello",
                "--signature",
                signed["signature"],
                "--address",
                created["coldkey"],
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "wallet",
                "verify",
                "--message",
                "hellO",
                "--signature",
                signed["signature"],
                "--address",
                created["coldkey"],
            ]
        )
        == 1
    )


def test_cli_errors_are_one_line_not_tracebacks(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["wallet", "create", "--wallet.name", "w", "--no-prompt"]) == 0
    capsys.readouterr()
    assert main(["wallet", "create", "--wallet.name", "w", "--no-prompt"]) == 1
    assert "already exists" in capsys.readouterr().err

    monkeypatch.setenv("SUBNET_WALLET_PASSWORD", "not it")
    assert main(["wallet", "sign", "--wallet.name", "w", "--message", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: wrong password") and "Traceback" not in err

    monkeypatch.delenv("SUBNET_WALLET_PASSWORD")
    assert main(["wallet", "create", "--wallet.name", "other", "--no-prompt"]) == 1
    assert "SUBNET_WALLET_PASSWORD" in capsys.readouterr().err
    assert not (cli_env / "other" / "coldkey").exists()
    assert (
        main(["wallet", "regen", "hotkey", "--wallet.name", "w", "--wallet.hotkey", "h", "--mnemonic", "abandon " * 12])
        == 1
    )
    assert "checksum" in capsys.readouterr().err
