"""Transactions on the wire: build and sign them (clients), decode and verify them (the node).

The signature covers a domain tag, the chain's genesis hash (so a transaction cannot be replayed on another
chain) and the exact body bytes. The transaction hash is SHA-256 over the signer's public key and the body, so
resubmitting the same body (say, after a lost connection) is recognised as the same transaction.
"""

from __future__ import annotations

import hashlib
import os

from subnet import ss58
from subnet.chain import calls
from subnet.chain.node import SignedTx
from subnet.chain.runtime import TxRejected
from subnet.keys import Keypair, public_key_of, verify_signature
from subnet.proto import subnet_pb2 as pb

TX_DOMAIN = b"subnet-tx/v1"
MAX_BODY_BYTES = 20 * 1024  # the largest call (serve with a 16 KiB certificate) fits


def signing_payload(genesis_hash: str, body: bytes) -> bytes:
    return TX_DOMAIN + bytes.fromhex(genesis_hash) + body


def transaction_hash(signer: str, body: bytes) -> str:
    return hashlib.sha256(public_key_of(signer) + body).hexdigest()


def build_transaction(keypair: Keypair, genesis_hash: str, call: calls.Call, valid_until_block: int,
                      nonce: int | None = None) -> pb.Transaction:
    """A signed transaction carrying ``call``, valid up to ``valid_until_block``."""
    body = pb.TxBody(nonce=int.from_bytes(os.urandom(8), "big") if nonce is None else nonce,
                     valid_until_block=valid_until_block)
    _fill(body, call)
    raw = body.SerializeToString(deterministic=True)
    return pb.Transaction(body=raw, signer=keypair.ss58_address,
                          signature=keypair.sign(signing_payload(genesis_hash, raw)))


def decode_transaction(tx: pb.Transaction, genesis_hash: str) -> SignedTx:
    """Verify and decode a submitted transaction. Raises TxRejected (reason malformed/bad_signature)."""
    if not ss58.is_valid(tx.signer):
        raise TxRejected("malformed", "signer must be the SS58 address of the signing key")
    if len(tx.body) > MAX_BODY_BYTES:
        raise TxRejected("malformed", f"the transaction body is larger than {MAX_BODY_BYTES} bytes")
    if not verify_signature(tx.signer, signing_payload(genesis_hash, tx.body), tx.signature):
        raise TxRejected("bad_signature", "the signature does not match the signer, this chain's genesis and the "
                         "body: sign with the signer's key for this chain")
    body = pb.TxBody()
    try:
        body.ParseFromString(tx.body)
    except Exception:  # protobuf raises DecodeError, but be strict about anything
        raise TxRejected("malformed", "the body is not a valid TxBody message") from None
    call = _call_of(body)
    return SignedTx(hash=transaction_hash(tx.signer, tx.body), signer=tx.signer, body=tx.body,
                    signature=tx.signature, call=call, valid_until_block=body.valid_until_block)


def _fill(body: pb.TxBody, call: calls.Call) -> None:
    match call:
        case calls.Transfer(dest, amount):
            body.transfer.CopyFrom(pb.Transfer(dest=dest, amount=amount))
        case calls.Register(hotkey, hotkey_signature, proof_valid_until_block):
            body.register.CopyFrom(pb.Register(hotkey=hotkey, hotkey_signature=hotkey_signature,
                                               proof_valid_until_block=proof_valid_until_block))
        case calls.Serve(endpoint, model_name, model_hash, tls_certificate):
            body.serve.CopyFrom(pb.Serve(endpoint=endpoint, model_name=model_name, model_hash=model_hash,
                                         tls_certificate=tls_certificate))
        case calls.AddStake(hotkey, amount):
            body.add_stake.CopyFrom(pb.AddStake(hotkey=hotkey, amount=amount))
        case calls.RemoveStake(hotkey, amount):
            body.remove_stake.CopyFrom(pb.RemoveStake(hotkey=hotkey, amount=amount))
        case calls.SetWeights(uids, values, version_key):
            body.set_weights.CopyFrom(pb.SetWeights(uids=uids, values=values, version_key=version_key))
        case calls.CommitWeights(commit_hash):
            body.commit_weights.CopyFrom(pb.CommitWeights(commit_hash=commit_hash))
        case calls.RevealWeights(uids, values, salt, version_key):
            body.reveal_weights.CopyFrom(pb.RevealWeights(uids=uids, values=values, salt=salt,
                                                          version_key=version_key))
        case calls.SetHyperparameter(name, value):
            body.set_hyperparameter.CopyFrom(pb.SetHyperparameter(name=name, value=int(value)))
        case calls.SetAdmittedModels(models):
            body.set_admitted_models.CopyFrom(pb.SetAdmittedModels(models=[
                pb.AdmittedModel(model_hash=m.model_hash, name=m.name, dtype=m.dtype) for m in models]))
        case _:
            raise TypeError(f"not a chain call: {call!r}")


def _call_of(body: pb.TxBody) -> calls.Call:
    kind = body.WhichOneof("call")
    match kind:
        case "transfer":
            return calls.Transfer(body.transfer.dest, body.transfer.amount)
        case "register":
            r = body.register
            return calls.Register(r.hotkey, r.hotkey_signature, r.proof_valid_until_block)
        case "serve":
            s = body.serve
            return calls.Serve(s.endpoint, s.model_name, s.model_hash, s.tls_certificate)
        case "add_stake":
            return calls.AddStake(body.add_stake.hotkey, body.add_stake.amount)
        case "remove_stake":
            return calls.RemoveStake(body.remove_stake.hotkey, body.remove_stake.amount)
        case "set_weights":
            w = body.set_weights
            return calls.SetWeights(tuple(w.uids), tuple(w.values), w.version_key)
        case "commit_weights":
            return calls.CommitWeights(body.commit_weights.commit_hash)
        case "reveal_weights":
            r = body.reveal_weights
            return calls.RevealWeights(tuple(r.uids), tuple(r.values), r.salt, r.version_key)
        case "set_hyperparameter":
            return calls.SetHyperparameter(body.set_hyperparameter.name, body.set_hyperparameter.value)
        case "set_admitted_models":
            return calls.SetAdmittedModels(tuple(calls.AdmittedModel(m.model_hash, m.name, m.dtype)
                                                 for m in body.set_admitted_models.models))
    raise TxRejected("malformed", "the transaction carries no call")
