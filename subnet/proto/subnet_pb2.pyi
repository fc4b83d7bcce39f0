from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FinishReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINISH_REASON_UNSPECIFIED: _ClassVar[FinishReason]
    FINISH_REASON_STOP: _ClassVar[FinishReason]
    FINISH_REASON_LENGTH: _ClassVar[FinishReason]
    FINISH_REASON_CANCELLED: _ClassVar[FinishReason]
FINISH_REASON_UNSPECIFIED: FinishReason
FINISH_REASON_STOP: FinishReason
FINISH_REASON_LENGTH: FinishReason
FINISH_REASON_CANCELLED: FinishReason

class ChatMessage(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class GenerateRequest(_message.Message):
    __slots__ = ("messages", "prompt", "max_new_tokens", "temperature", "top_p", "seed", "request_id")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    prompt: str
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    request_id: str
    def __init__(self, messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., prompt: _Optional[str] = ..., max_new_tokens: _Optional[int] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., seed: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class ModelIdentity(_message.Message):
    __slots__ = ("name", "weights_sha256", "dtype")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_SHA256_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    weights_sha256: str
    dtype: str
    def __init__(self, name: _Optional[str] = ..., weights_sha256: _Optional[str] = ..., dtype: _Optional[str] = ...) -> None: ...

class GenerateResponse(_message.Message):
    __slots__ = ("text", "token_ids", "logprobs", "prompt_tokens", "completion_tokens", "ttft_s", "tokens_per_s", "finish_reason", "model", "request_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TTFT_S_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_S_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    token_ids: _containers.RepeatedScalarFieldContainer[int]
    logprobs: _containers.RepeatedScalarFieldContainer[float]
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float
    tokens_per_s: float
    finish_reason: FinishReason
    model: ModelIdentity
    request_id: str
    def __init__(self, text: _Optional[str] = ..., token_ids: _Optional[_Iterable[int]] = ..., logprobs: _Optional[_Iterable[float]] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., ttft_s: _Optional[float] = ..., tokens_per_s: _Optional[float] = ..., finish_reason: _Optional[_Union[FinishReason, str]] = ..., model: _Optional[_Union[ModelIdentity, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class TokenDelta(_message.Message):
    __slots__ = ("text", "token_ids", "logprobs")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    text: str
    token_ids: _containers.RepeatedScalarFieldContainer[int]
    logprobs: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, text: _Optional[str] = ..., token_ids: _Optional[_Iterable[int]] = ..., logprobs: _Optional[_Iterable[float]] = ...) -> None: ...

class GenerateChunk(_message.Message):
    __slots__ = ("delta", "final")
    DELTA_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    delta: TokenDelta
    final: GenerateResponse
    def __init__(self, delta: _Optional[_Union[TokenDelta, _Mapping]] = ..., final: _Optional[_Union[GenerateResponse, _Mapping]] = ...) -> None: ...

class InfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InfoResponse(_message.Message):
    __slots__ = ("model", "max_new_tokens", "max_prompt_tokens", "max_batch", "version", "hotkey")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HOTKEY_FIELD_NUMBER: _ClassVar[int]
    model: ModelIdentity
    max_new_tokens: int
    max_prompt_tokens: int
    max_batch: int
    version: str
    hotkey: str
    def __init__(self, model: _Optional[_Union[ModelIdentity, _Mapping]] = ..., max_new_tokens: _Optional[int] = ..., max_prompt_tokens: _Optional[int] = ..., max_batch: _Optional[int] = ..., version: _Optional[str] = ..., hotkey: _Optional[str] = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ("body", "signer", "signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    signer: str
    signature: bytes
    def __init__(self, body: _Optional[bytes] = ..., signer: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class TxBody(_message.Message):
    __slots__ = ("nonce", "valid_until_block", "transfer", "register", "serve", "add_stake", "remove_stake", "set_weights", "commit_weights", "reveal_weights", "set_hyperparameter", "set_admitted_models")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_BLOCK_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    SERVE_FIELD_NUMBER: _ClassVar[int]
    ADD_STAKE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_STAKE_FIELD_NUMBER: _ClassVar[int]
    SET_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    COMMIT_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    REVEAL_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    SET_HYPERPARAMETER_FIELD_NUMBER: _ClassVar[int]
    SET_ADMITTED_MODELS_FIELD_NUMBER: _ClassVar[int]
    nonce: int
    valid_until_block: int
    transfer: Transfer
    register: Register
    serve: Serve
    add_stake: AddStake
    remove_stake: RemoveStake
    set_weights: SetWeights
    commit_weights: CommitWeights
    reveal_weights: RevealWeights
    set_hyperparameter: SetHyperparameter
    set_admitted_models: SetAdmittedModels
    def __init__(self, nonce: _Optional[int] = ..., valid_until_block: _Optional[int] = ..., transfer: _Optional[_Union[Transfer, _Mapping]] = ..., register: _Optional[_Union[Register, _Mapping]] = ..., serve: _Optional[_Union[Serve, _Mapping]] = ..., add_stake: _Optional[_Union[AddStake, _Mapping]] = ..., remove_stake: _Optional[_Union[RemoveStake, _Mapping]] = ..., set_weights: _Optional[_Union[SetWeights, _Mapping]] = ..., commit_weights: _Optional[_Union[CommitWeights, _Mapping]] = ..., reveal_weights: _Optional[_Union[RevealWeights, _Mapping]] = ..., set_hyperparameter: _Optional[_Union[SetHyperparameter, _Mapping]] = ..., set_admitted_models: _Optional[_Union[SetAdmittedModels, _Mapping]] = ...) -> None: ...

class Transfer(_message.Message):
    __slots__ = ("dest", "amount")
    DEST_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    dest: str
    amount: int
    def __init__(self, dest: _Optional[str] = ..., amount: _Optional[int] = ...) -> None: ...

class Register(_message.Message):
    __slots__ = ("hotkey", "hotkey_signature", "proof_valid_until_block")
    HOTKEY_FIELD_NUMBER: _ClassVar[int]
    HOTKEY_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    PROOF_VALID_UNTIL_BLOCK_FIELD_NUMBER: _ClassVar[int]
    hotkey: str
    hotkey_signature: bytes
    proof_valid_until_block: int
    def __init__(self, hotkey: _Optional[str] = ..., hotkey_signature: _Optional[bytes] = ..., proof_valid_until_block: _Optional[int] = ...) -> None: ...

class Serve(_message.Message):
    __slots__ = ("endpoint", "model_name", "model_hash", "tls_certificate")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    TLS_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    model_name: str
    model_hash: str
    tls_certificate: bytes
    def __init__(self, endpoint: _Optional[str] = ..., model_name: _Optional[str] = ..., model_hash: _Optional[str] = ..., tls_certificate: _Optional[bytes] = ...) -> None: ...

class AddStake(_message.Message):
    __slots__ = ("hotkey", "amount")
    HOTKEY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    hotkey: str
    amount: int
    def __init__(self, hotkey: _Optional[str] = ..., amount: _Optional[int] = ...) -> None: ...

class RemoveStake(_message.Message):
    __slots__ = ("hotkey", "amount")
    HOTKEY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    hotkey: str
    amount: int
    def __init__(self, hotkey: _Optional[str] = ..., amount: _Optional[int] = ...) -> None: ...

class SetWeights(_message.Message):
    __slots__ = ("uids", "values", "version_key")
    UIDS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    VERSION_KEY_FIELD_NUMBER: _ClassVar[int]
    uids: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    version_key: int
    def __init__(self, uids: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[int]] = ..., version_key: _Optional[int] = ...) -> None: ...

class CommitWeights(_message.Message):
    __slots__ = ("commit_hash",)
    COMMIT_HASH_FIELD_NUMBER: _ClassVar[int]
    commit_hash: bytes
    def __init__(self, commit_hash: _Optional[bytes] = ...) -> None: ...

class RevealWeights(_message.Message):
    __slots__ = ("uids", "values", "salt", "version_key")
    UIDS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    SALT_FIELD_NUMBER: _ClassVar[int]
    VERSION_KEY_FIELD_NUMBER: _ClassVar[int]
    uids: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    salt: bytes
    version_key: int
    def __init__(self, uids: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[int]] = ..., salt: _Optional[bytes] = ..., version_key: _Optional[int] = ...) -> None: ...

class SetHyperparameter(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: int
    def __init__(self, name: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...

class AdmittedModel(_message.Message):
    __slots__ = ("model_hash", "name", "dtype")
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    model_hash: str
    name: str
    dtype: str
    def __init__(self, model_hash: _Optional[str] = ..., name: _Optional[str] = ..., dtype: _Optional[str] = ...) -> None: ...

class SetAdmittedModels(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[AdmittedModel]
    def __init__(self, models: _Optional[_Iterable[_Union[AdmittedModel, _Mapping]]] = ...) -> None: ...

class TxResult(_message.Message):
    __slots__ = ("tx_hash", "block", "ok", "reason", "message")
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    tx_hash: str
    block: int
    ok: bool
    reason: str
    message: str
    def __init__(self, tx_hash: _Optional[str] = ..., block: _Optional[int] = ..., ok: _Optional[bool] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class GetTransactionRequest(_message.Message):
    __slots__ = ("tx_hash",)
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    tx_hash: str
    def __init__(self, tx_hash: _Optional[str] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChainStatus(_message.Message):
    __slots__ = ("block", "header_hash", "genesis_hash", "issuance", "pending", "recycled", "minted", "burn", "tempo", "last_epoch_block", "epoch_index", "block_reward", "block_time_s", "neurons", "next_halving_issuance", "blocks_until_halving")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    HEADER_HASH_FIELD_NUMBER: _ClassVar[int]
    GENESIS_HASH_FIELD_NUMBER: _ClassVar[int]
    ISSUANCE_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    RECYCLED_FIELD_NUMBER: _ClassVar[int]
    MINTED_FIELD_NUMBER: _ClassVar[int]
    BURN_FIELD_NUMBER: _ClassVar[int]
    TEMPO_FIELD_NUMBER: _ClassVar[int]
    LAST_EPOCH_BLOCK_FIELD_NUMBER: _ClassVar[int]
    EPOCH_INDEX_FIELD_NUMBER: _ClassVar[int]
    BLOCK_REWARD_FIELD_NUMBER: _ClassVar[int]
    BLOCK_TIME_S_FIELD_NUMBER: _ClassVar[int]
    NEURONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_HALVING_ISSUANCE_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_UNTIL_HALVING_FIELD_NUMBER: _ClassVar[int]
    block: int
    header_hash: str
    genesis_hash: str
    issuance: int
    pending: int
    recycled: int
    minted: int
    burn: int
    tempo: int
    last_epoch_block: int
    epoch_index: int
    block_reward: int
    block_time_s: float
    neurons: int
    next_halving_issuance: int
    blocks_until_halving: int
    def __init__(self, block: _Optional[int] = ..., header_hash: _Optional[str] = ..., genesis_hash: _Optional[str] = ..., issuance: _Optional[int] = ..., pending: _Optional[int] = ..., recycled: _Optional[int] = ..., minted: _Optional[int] = ..., burn: _Optional[int] = ..., tempo: _Optional[int] = ..., last_epoch_block: _Optional[int] = ..., epoch_index: _Optional[int] = ..., block_reward: _Optional[int] = ..., block_time_s: _Optional[float] = ..., neurons: _Optional[int] = ..., next_halving_issuance: _Optional[int] = ..., blocks_until_halving: _Optional[int] = ...) -> None: ...

class NeuronInfo(_message.Message):
    __slots__ = ("uid", "hotkey", "coldkey", "stake", "consensus_u16", "incentive_u16", "dividends_u16", "trust_u16", "emission", "validator_permit", "active", "last_update", "registered_at", "endpoint", "model_name", "model_hash", "tls_certificate")
    UID_FIELD_NUMBER: _ClassVar[int]
    HOTKEY_FIELD_NUMBER: _ClassVar[int]
    COLDKEY_FIELD_NUMBER: _ClassVar[int]
    STAKE_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_U16_FIELD_NUMBER: _ClassVar[int]
    INCENTIVE_U16_FIELD_NUMBER: _ClassVar[int]
    DIVIDENDS_U16_FIELD_NUMBER: _ClassVar[int]
    TRUST_U16_FIELD_NUMBER: _ClassVar[int]
    EMISSION_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_PERMIT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    TLS_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    uid: int
    hotkey: str
    coldkey: str
    stake: int
    consensus_u16: int
    incentive_u16: int
    dividends_u16: int
    trust_u16: int
    emission: int
    validator_permit: bool
    active: bool
    last_update: int
    registered_at: int
    endpoint: str
    model_name: str
    model_hash: str
    tls_certificate: str
    def __init__(self, uid: _Optional[int] = ..., hotkey: _Optional[str] = ..., coldkey: _Optional[str] = ..., stake: _Optional[int] = ..., consensus_u16: _Optional[int] = ..., incentive_u16: _Optional[int] = ..., dividends_u16: _Optional[int] = ..., trust_u16: _Optional[int] = ..., emission: _Optional[int] = ..., validator_permit: _Optional[bool] = ..., active: _Optional[bool] = ..., last_update: _Optional[int] = ..., registered_at: _Optional[int] = ..., endpoint: _Optional[str] = ..., model_name: _Optional[str] = ..., model_hash: _Optional[str] = ..., tls_certificate: _Optional[str] = ...) -> None: ...

class SparseRow(_message.Message):
    __slots__ = ("uid", "uids", "values")
    UID_FIELD_NUMBER: _ClassVar[int]
    UIDS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    uid: int
    uids: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, uid: _Optional[int] = ..., uids: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[int]] = ...) -> None: ...

class MetagraphRequest(_message.Message):
    __slots__ = ("include_matrices",)
    INCLUDE_MATRICES_FIELD_NUMBER: _ClassVar[int]
    include_matrices: bool
    def __init__(self, include_matrices: _Optional[bool] = ...) -> None: ...

class MetagraphResponse(_message.Message):
    __slots__ = ("block", "tempo", "issuance", "pending", "owner_hotkey", "neurons", "weights", "bonds", "admitted_models")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    TEMPO_FIELD_NUMBER: _ClassVar[int]
    ISSUANCE_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    OWNER_HOTKEY_FIELD_NUMBER: _ClassVar[int]
    NEURONS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    BONDS_FIELD_NUMBER: _ClassVar[int]
    ADMITTED_MODELS_FIELD_NUMBER: _ClassVar[int]
    block: int
    tempo: int
    issuance: int
    pending: int
    owner_hotkey: str
    neurons: _containers.RepeatedCompositeFieldContainer[NeuronInfo]
    weights: _containers.RepeatedCompositeFieldContainer[SparseRow]
    bonds: _containers.RepeatedCompositeFieldContainer[SparseRow]
    admitted_models: _containers.RepeatedCompositeFieldContainer[AdmittedModel]
    def __init__(self, block: _Optional[int] = ..., tempo: _Optional[int] = ..., issuance: _Optional[int] = ..., pending: _Optional[int] = ..., owner_hotkey: _Optional[str] = ..., neurons: _Optional[_Iterable[_Union[NeuronInfo, _Mapping]]] = ..., weights: _Optional[_Iterable[_Union[SparseRow, _Mapping]]] = ..., bonds: _Optional[_Iterable[_Union[SparseRow, _Mapping]]] = ..., admitted_models: _Optional[_Iterable[_Union[AdmittedModel, _Mapping]]] = ...) -> None: ...

class BalanceRequest(_message.Message):
    __slots__ = ("address",)
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: str
    def __init__(self, address: _Optional[str] = ...) -> None: ...

class StakeEntry(_message.Message):
    __slots__ = ("coldkey", "hotkey", "amount")
    COLDKEY_FIELD_NUMBER: _ClassVar[int]
    HOTKEY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    coldkey: str
    hotkey: str
    amount: int
    def __init__(self, coldkey: _Optional[str] = ..., hotkey: _Optional[str] = ..., amount: _Optional[int] = ...) -> None: ...

class BalanceResponse(_message.Message):
    __slots__ = ("address", "free", "stakes", "block")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    STAKES_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    address: str
    free: int
    stakes: _containers.RepeatedCompositeFieldContainer[StakeEntry]
    block: int
    def __init__(self, address: _Optional[str] = ..., free: _Optional[int] = ..., stakes: _Optional[_Iterable[_Union[StakeEntry, _Mapping]]] = ..., block: _Optional[int] = ...) -> None: ...

class HyperparametersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HyperparametersResponse(_message.Message):
    __slots__ = ("values", "block")
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    values: _containers.ScalarMap[str, int]
    block: int
    def __init__(self, values: _Optional[_Mapping[str, int]] = ..., block: _Optional[int] = ...) -> None: ...

class BlockHeader(_message.Message):
    __slots__ = ("height", "hash", "parent", "tx_root", "state_root", "time_ms", "minted", "epoch", "epoch_paid", "issuance", "recycled")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    TX_ROOT_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    MINTED_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    EPOCH_PAID_FIELD_NUMBER: _ClassVar[int]
    ISSUANCE_FIELD_NUMBER: _ClassVar[int]
    RECYCLED_FIELD_NUMBER: _ClassVar[int]
    height: int
    hash: str
    parent: str
    tx_root: str
    state_root: str
    time_ms: int
    minted: int
    epoch: bool
    epoch_paid: int
    issuance: int
    recycled: int
    def __init__(self, height: _Optional[int] = ..., hash: _Optional[str] = ..., parent: _Optional[str] = ..., tx_root: _Optional[str] = ..., state_root: _Optional[str] = ..., time_ms: _Optional[int] = ..., minted: _Optional[int] = ..., epoch: _Optional[bool] = ..., epoch_paid: _Optional[int] = ..., issuance: _Optional[int] = ..., recycled: _Optional[int] = ...) -> None: ...

class HeadersRequest(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class HeadersResponse(_message.Message):
    __slots__ = ("headers",)
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    headers: _containers.RepeatedCompositeFieldContainer[BlockHeader]
    def __init__(self, headers: _Optional[_Iterable[_Union[BlockHeader, _Mapping]]] = ...) -> None: ...

class SubscribeBlocksRequest(_message.Message):
    __slots__ = ("from_height",)
    FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    from_height: int
    def __init__(self, from_height: _Optional[int] = ...) -> None: ...
