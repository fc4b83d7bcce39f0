"""Keyfiles: one key per JSON file, optionally encrypted at rest, written 0600 inside 0700 folders.

Layout of a keyfile (UTF-8 JSON)::

    {"format": "subnet-keyfile/1", "ss58_address": "5...", "public_key": "<hex>", "encrypted": true,
     "kdf": {"name": "argon2id", "opslimit": 3, "memlimit": 268435456, "salt": "<32 hex>"},
     "cipher": "xsalsa20-poly1305", "ciphertext": "<hex of SecretBox(nonce || box)>"}

An unencrypted keyfile has ``"encrypted": false`` and ``"secret": {...}`` in place of kdf/cipher/ciphertext. The
secret is ``{"seed": "<64 hex>", "mnemonic": "<phrase or null>"}``. Encryption derives a 32-byte key with
Argon2id (a fresh random salt per file, the cost stored beside it) and seals the secret with SecretBox. The public
fields are readable without a password and are checked against the decrypted seed on every load.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils
from nacl.pwhash import argon2id

from subnet.errors import KeyfileExistsError, KeyfileNotFoundError, WalletError, WrongPasswordError
from subnet.keys import Keypair

FORMAT = "subnet-keyfile/1"
KDF_ENV = "SUBNET_KDF"


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost: ``opslimit`` passes over ``memlimit_bytes`` of memory."""

    opslimit: int = argon2id.OPSLIMIT_MODERATE
    memlimit_bytes: int = argon2id.MEMLIMIT_MODERATE


KDF_PRESETS = {
    "moderate": KdfParams(argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE),
    "interactive": KdfParams(argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE),
    "sensitive": KdfParams(argon2id.OPSLIMIT_SENSITIVE, argon2id.MEMLIMIT_SENSITIVE),
    # Only for tests and throwaway local networks; chosen explicitly with SUBNET_KDF=fast, never by default.
    "fast": KdfParams(argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN),
}


def kdf_from_env(environ: os._Environ[str] | dict[str, str] | None = None) -> KdfParams:
    """The KDF cost for new keyfiles: ``SUBNET_KDF`` (moderate, interactive, sensitive, fast), default moderate."""
    env = os.environ if environ is None else environ
    name = env.get(KDF_ENV, "moderate").strip().lower() or "moderate"
    if name not in KDF_PRESETS:
        raise WalletError(f"{KDF_ENV}={name!r} is not one of {sorted(KDF_PRESETS)}")
    return KDF_PRESETS[name]


@dataclass(frozen=True)
class KeyfileInfo:
    """The public part of a keyfile, readable without a password."""

    path: Path
    ss58_address: str
    public_key: bytes
    encrypted: bool


@dataclass(frozen=True)
class KeySecret:
    """A decrypted keyfile: the keypair and, when the file kept it, its mnemonic."""

    keypair: Keypair
    mnemonic: str | None


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if needed and make sure ``path`` itself is mode 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir honours the umask and leaves existing folders alone, so set the mode explicitly.
    os.chmod(path, 0o700)


def write_private_file(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 (temp file, fsync, rename).

    Raises ``KeyfileExistsError`` if ``path`` exists and ``overwrite`` is False.
    """
    if path.exists() and not overwrite:
        raise KeyfileExistsError(f"{path} already exists; pass --overwrite to replace it (the old key is lost)")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _derive_key(password: str, salt: bytes, params: KdfParams) -> bytes:
    return argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        password.encode("utf-8"),
        salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit_bytes,
    )


def encode_keyfile(
    keypair: Keypair, *, mnemonic: str | None = None, password: str | None = None, kdf: KdfParams | None = None
) -> bytes:
    """Serialize a key; encrypted when ``password`` is given (an empty password is refused)."""
    secret = json.dumps({"seed": keypair.seed.hex(), "mnemonic": mnemonic}).encode()
    doc: dict[str, object] = {
        "format": FORMAT,
        "ss58_address": keypair.ss58_address,
        "public_key": keypair.public_key.hex(),
    }
    if password is None:
        doc.update(encrypted=False, secret=json.loads(secret))
    else:
        if not password:
            raise WalletError("an empty password does not protect anything; choose a non-empty password")
        params = kdf or kdf_from_env()
        salt = nacl.utils.random(argon2id.SALTBYTES)
        box = nacl.secret.SecretBox(_derive_key(password, salt, params))
        doc.update(
            encrypted=True,
            kdf={
                "name": "argon2id",
                "opslimit": params.opslimit,
                "memlimit": params.memlimit_bytes,
                "salt": salt.hex(),
            },
            cipher="xsalsa20-poly1305",
            ciphertext=bytes(box.encrypt(secret)).hex(),
        )
    return (json.dumps(doc, indent=2) + "\n").encode()


def _load_doc(path: Path) -> dict:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise KeyfileNotFoundError(f"no keyfile at {path}; create it with `subnet wallet create`") from None
    try:
        doc = json.loads(text)
    except ValueError:
        raise WalletError(f"{path} is not a subnet keyfile (not JSON); restore it with `subnet wallet regen`") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise WalletError(f"{path} is not a {FORMAT} keyfile; restore it with `subnet wallet regen`")
    return doc


def read_info(path: Path) -> KeyfileInfo:
    """The public fields of the keyfile at ``path`` (no password needed)."""
    doc = _load_doc(path)
    try:
        return KeyfileInfo(path, str(doc["ss58_address"]), bytes.fromhex(doc["public_key"]), bool(doc["encrypted"]))
    except (KeyError, TypeError, ValueError):
        raise WalletError(f"{path} is missing its public fields; restore it with `subnet wallet regen`") from None


def read_keyfile(path: Path, password: str | None = None) -> KeySecret:
    """Load (and decrypt) the keyfile at ``path``.

    Raises ``WrongPasswordError`` when the password does not open it, ``WalletError`` when the file is encrypted
    and no password was given, or when it is damaged (including a seed that does not match the public fields).
    """
    doc = _load_doc(path)
    info = read_info(path)
    try:
        if info.encrypted:
            if password is None:
                raise WalletError(f"{path} is encrypted; give its password at the prompt or in SUBNET_WALLET_PASSWORD")
            kdf = doc["kdf"]
            if kdf.get("name") != "argon2id" or doc.get("cipher") != "xsalsa20-poly1305":
                raise WalletError(f"{path} uses an unknown encryption scheme")
            params = KdfParams(int(kdf["opslimit"]), int(kdf["memlimit"]))
            # A damaged or hostile file must not make us spend unbounded time or memory.
            if not (
                argon2id.OPSLIMIT_MIN <= params.opslimit <= argon2id.OPSLIMIT_SENSITIVE
                and argon2id.MEMLIMIT_MIN <= params.memlimit_bytes <= argon2id.MEMLIMIT_SENSITIVE
            ):
                raise WalletError(f"{path} asks for an out-of-range key derivation cost")
            box = nacl.secret.SecretBox(_derive_key(password, bytes.fromhex(kdf["salt"]), params))
            try:
                secret = json.loads(box.decrypt(bytes.fromhex(doc["ciphertext"])))
            except nacl.exceptions.CryptoError:
                raise WrongPasswordError(
                    f"wrong password for {path}; try again, or restore the key from its mnemonic with "
                    "`subnet wallet regen`"
                ) from None
        else:
            secret = doc["secret"]
        keypair = Keypair.from_seed(bytes.fromhex(secret["seed"]))
        mnemonic = secret.get("mnemonic")
    except (KeyError, TypeError, ValueError, nacl.exceptions.CryptoError) as e:
        raise WalletError(f"{path} is damaged ({type(e).__name__}); restore it with `subnet wallet regen`") from None
    if keypair.public_key != info.public_key or keypair.ss58_address != info.ss58_address:
        raise WalletError(f"{path}: the secret does not match the public key; the file was altered or damaged")
    return KeySecret(keypair, mnemonic if isinstance(mnemonic, str) else None)
