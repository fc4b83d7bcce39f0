"""Wallets: a coldkey (funds, always encrypted) and named hotkeys (network identity) on disk.

Layout, under a root that defaults to ``~/.subnet/wallets`` (override with ``SUBNET_WALLET_PATH``)::

    <root>/<name>/coldkey           encrypted keyfile (see ``subnet.keyfile``)
    <root>/<name>/coldkeypub.txt    the coldkey's public address, readable without a password
    <root>/<name>/hotkeys/<hotkey>  keyfile, unencrypted unless created with a password

Every file is written 0600 and every folder this module creates is 0700. Nothing is ever overwritten unless the
caller says so.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from subnet import keyfile
from subnet.errors import InvalidAddressError, KeyfileNotFoundError, WalletError
from subnet.keyfile import KdfParams, KeyfileInfo
from subnet.keys import Keypair, generate_mnemonic, normalize_mnemonic, seed_from_mnemonic
from subnet.ss58 import decode as ss58_decode

WALLET_PATH_ENV = "SUBNET_WALLET_PATH"
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def default_wallet_root(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """``$SUBNET_WALLET_PATH`` if set, else ``~/.subnet/wallets``."""
    env = os.environ if environ is None else environ
    value = env.get(WALLET_PATH_ENV, "").strip()
    return Path(value).expanduser() if value else Path.home() / ".subnet" / "wallets"


def check_name(name: str, what: str = "wallet") -> str:
    """Return ``name`` if it is a safe file name (letters, digits, ``_ . -``, at most 64), else raise."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise WalletError(
            f"{what} name {name!r} is not allowed: use 1-64 letters, digits, '_', '.' or '-', not starting with '.'"
        )
    return name


def _secret_from(mnemonic: str | None, seed_hex: str | None) -> tuple[Keypair, str | None]:
    if (mnemonic is None) == (seed_hex is None):
        raise WalletError("give exactly one of a mnemonic or a seed to restore a key")
    if mnemonic is not None:
        phrase = normalize_mnemonic(mnemonic)
        return Keypair.from_seed(seed_from_mnemonic(phrase)), phrase
    try:
        return Keypair.from_seed_hex(seed_hex or ""), None
    except ValueError as e:
        raise WalletError(f"cannot restore from that seed: {e}") from None


@dataclass(frozen=True)
class Wallet:
    """A named wallet under ``root``; ``hotkey`` is the hotkey used when none is named explicitly."""

    name: str = "default"
    hotkey: str = "default"
    root: Path = field(default_factory=default_wallet_root)

    def __post_init__(self) -> None:
        check_name(self.name, "wallet")
        check_name(self.hotkey, "hotkey")
        object.__setattr__(self, "root", Path(self.root).expanduser())

    @property
    def path(self) -> Path:
        return self.root / self.name

    @property
    def coldkey_path(self) -> Path:
        return self.path / "coldkey"

    @property
    def coldkeypub_path(self) -> Path:
        return self.path / "coldkeypub.txt"

    @property
    def hotkeys_dir(self) -> Path:
        return self.path / "hotkeys"

    def hotkey_path(self, hotkey: str | None = None) -> Path:
        return self.hotkeys_dir / check_name(hotkey or self.hotkey, "hotkey")

    # --- creating -----------------------------------------------------------------------------------------

    def _prepare_dirs(self) -> None:
        # The root may be shared with other wallets; only the folders below it are ours to lock down.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        keyfile.ensure_private_dir(self.path)
        keyfile.ensure_private_dir(self.hotkeys_dir)

    def write_coldkey(
        self,
        keypair: Keypair,
        password: str,
        *,
        mnemonic: str | None = None,
        overwrite: bool = False,
        kdf: KdfParams | None = None,
    ) -> None:
        """Store ``keypair`` as this wallet's coldkey, encrypted with ``password``, plus ``coldkeypub.txt``."""
        self._prepare_dirs()
        if not overwrite and self.coldkey_path.exists():
            raise keyfile.KeyfileExistsError(
                f"{self.coldkey_path} already exists; pass --overwrite to replace it (the old key is lost)"
            )
        data = keyfile.encode_keyfile(keypair, mnemonic=mnemonic, password=password, kdf=kdf)
        keyfile.write_private_file(self.coldkey_path, data, overwrite=overwrite)
        public = {
            "format": "subnet-public/1",
            "ss58_address": keypair.ss58_address,
            "public_key": keypair.public_key.hex(),
        }
        keyfile.write_private_file(self.coldkeypub_path, (json.dumps(public) + "\n").encode(), overwrite=True)

    def write_hotkey(
        self,
        keypair: Keypair,
        password: str | None = None,
        *,
        hotkey: str | None = None,
        mnemonic: str | None = None,
        overwrite: bool = False,
        kdf: KdfParams | None = None,
    ) -> None:
        """Store ``keypair`` as a hotkey (encrypted only when ``password`` is given)."""
        self._prepare_dirs()
        data = keyfile.encode_keyfile(keypair, mnemonic=mnemonic, password=password, kdf=kdf)
        keyfile.write_private_file(self.hotkey_path(hotkey), data, overwrite=overwrite)

    def create_coldkey(
        self, password: str, *, words: int = 12, overwrite: bool = False, kdf: KdfParams | None = None
    ) -> tuple[Keypair, str]:
        """Create a new random coldkey; returns it with its mnemonic (show it to the user once)."""
        phrase = generate_mnemonic(words)
        keypair = Keypair.from_mnemonic(phrase)
        self.write_coldkey(keypair, password, mnemonic=phrase, overwrite=overwrite, kdf=kdf)
        return keypair, phrase

    def create_hotkey(
        self,
        password: str | None = None,
        *,
        hotkey: str | None = None,
        words: int = 12,
        overwrite: bool = False,
        kdf: KdfParams | None = None,
    ) -> tuple[Keypair, str]:
        """Create a new random hotkey; returns it with its mnemonic."""
        phrase = generate_mnemonic(words)
        keypair = Keypair.from_mnemonic(phrase)
        self.write_hotkey(keypair, password, hotkey=hotkey, mnemonic=phrase, overwrite=overwrite, kdf=kdf)
        return keypair, phrase

    def regen_coldkey(
        self,
        password: str,
        *,
        mnemonic: str | None = None,
        seed_hex: str | None = None,
        overwrite: bool = False,
        kdf: KdfParams | None = None,
    ) -> Keypair:
        """Restore the coldkey from its mnemonic or its hex seed (exactly one)."""
        keypair, phrase = _secret_from(mnemonic, seed_hex)
        self.write_coldkey(keypair, password, mnemonic=phrase, overwrite=overwrite, kdf=kdf)
        return keypair

    def regen_hotkey(
        self,
        password: str | None = None,
        *,
        mnemonic: str | None = None,
        seed_hex: str | None = None,
        hotkey: str | None = None,
        overwrite: bool = False,
        kdf: KdfParams | None = None,
    ) -> Keypair:
        """Restore a hotkey from its mnemonic or its hex seed (exactly one)."""
        keypair, phrase = _secret_from(mnemonic, seed_hex)
        self.write_hotkey(keypair, password, hotkey=hotkey, mnemonic=phrase, overwrite=overwrite, kdf=kdf)
        return keypair

    # --- reading ------------------------------------------------------------------------------------------

    def load_coldkey(self, password: str) -> Keypair:
        """Decrypt the coldkey. Raises ``WrongPasswordError`` or ``KeyfileNotFoundError``."""
        return keyfile.read_keyfile(self.coldkey_path, password).keypair

    def load_hotkey(self, password: str | None = None, *, hotkey: str | None = None) -> Keypair:
        """Load a hotkey (``password`` only for encrypted ones). Raises ``KeyfileNotFoundError`` if absent."""
        return keyfile.read_keyfile(self.hotkey_path(hotkey), password).keypair

    def coldkey_ss58(self) -> str:
        """The coldkey's address from ``coldkeypub.txt`` (no password needed)."""
        try:
            doc = json.loads(self.coldkeypub_path.read_text("utf-8"))
            address = str(doc["ss58_address"])
            ss58_decode(address)
        except FileNotFoundError:
            raise KeyfileNotFoundError(
                f"no {self.coldkeypub_path}; create the wallet with `subnet wallet create` or restore it with "
                "`subnet wallet regen coldkey`"
            ) from None
        except (ValueError, KeyError, TypeError, InvalidAddressError):
            raise WalletError(f"{self.coldkeypub_path} is damaged; restore it with `subnet wallet regen`") from None
        return address

    def hotkey_info(self, hotkey: str | None = None) -> KeyfileInfo:
        """The public fields of a hotkey file (no password needed)."""
        return keyfile.read_info(self.hotkey_path(hotkey))

    def hotkey_names(self) -> list[str]:
        """Names of this wallet's hotkeys, sorted (temporary and hidden files are skipped)."""
        if not self.hotkeys_dir.is_dir():
            return []
        return sorted(p.name for p in self.hotkeys_dir.iterdir() if p.is_file() and _NAME_RE.fullmatch(p.name))

    def has_coldkey(self) -> bool:
        return self.coldkey_path.exists() or self.coldkeypub_path.exists()


def list_wallets(root: Path | None = None) -> list[Wallet]:
    """Every wallet folder under ``root`` (default: ``default_wallet_root()``), sorted by name."""
    base = Path(root).expanduser() if root is not None else default_wallet_root()
    if not base.is_dir():
        return []
    return [Wallet(name=p.name, root=base) for p in sorted(base.iterdir()) if p.is_dir() and _NAME_RE.fullmatch(p.name)]
